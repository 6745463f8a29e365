"""health_runevent becomes a table partitioned by month of started_at on PostgreSQL (issue 19 §3);
nothing changes on SQLite (one plain table). See health/partitions.py for the shape.

The conversion copies every row into the new partitioned table inside this migration's
transaction, with the table locked (ACCESS EXCLUSIVE): ingest waits until it is done (not timed
at scale; plan it for a quiet hour on a large table). Every month the rows span gets its
partition, plus the next months ahead and a DEFAULT partition; the identities of the stored runs are copied into health_runevent_identity.

Model state does not change: the UniqueConstraint runevent_unique_event_per_automation is kept in
the state (Django validates it with a query, which works across partitions) and is, on
PostgreSQL, the unique constraint of health_runevent_identity. The model's indexes are
created on the partitioned table (each partition gets its own), runevent_started_idx as BRIN (see
health/README.md, "Storage at scale"), plus (automation_id, event_id) for the merge of late
reports. CREATE INDEX CONCURRENTLY does not work on a partitioned table: a later index migration
builds the index per partition (concurrently) and attaches it to an index created ON ONLY the parent.
"""

from django.db import migrations

AHEAD_MONTHS = 3

INDEXES = """
CREATE INDEX runevent_auto_started_id_idx ON health_runevent (automation_id, started_at, id);
CREATE INDEX runevent_auto_rare_outcome_idx ON health_runevent (automation_id, outcome, started_at, id)
    WHERE outcome IN ('failure', 'skipped', 'running', 'timed_out');
CREATE INDEX runevent_started_idx ON health_runevent USING brin (started_at) WITH (pages_per_range = 32);
CREATE INDEX runevent_running_idx ON health_runevent (started_at) WHERE outcome = 'running';
CREATE INDEX runevent_identity_idx ON health_runevent (automation_id, event_id);
"""
UNPARTITIONED_INDEXES = """
CREATE INDEX runevent_auto_started_id_idx ON health_runevent (automation_id, started_at, id);
CREATE INDEX runevent_auto_rare_outcome_idx ON health_runevent (automation_id, outcome, started_at, id)
    WHERE outcome IN ('failure', 'skipped', 'running', 'timed_out');
CREATE INDEX runevent_started_idx ON health_runevent (started_at);
CREATE INDEX runevent_running_idx ON health_runevent (started_at) WHERE outcome = 'running';
CREATE INDEX health_runevent_automation_id_idx ON health_runevent (automation_id);
"""

TRIGGERS = """
CREATE FUNCTION health_runevent_claim() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    claimed timestamptz;
BEGIN
    INSERT INTO health_runevent_identity (automation_id, event_id, started_at)
    VALUES (NEW.automation_id, NEW.event_id, NEW.started_at)
    ON CONFLICT (automation_id, event_id) DO NOTHING;
    IF FOUND THEN
        RETURN NEW;
    END IF;
    -- Claimed already: by the batch ingest for this very row, or by a run stored before (in any
    -- month), or left over by a month that was dropped.
    SELECT started_at INTO claimed FROM health_runevent_identity
    WHERE automation_id = NEW.automation_id AND event_id = NEW.event_id FOR UPDATE;
    IF EXISTS (SELECT 1 FROM health_runevent WHERE automation_id = NEW.automation_id
               AND event_id = NEW.event_id AND started_at = claimed) THEN
        RAISE unique_violation USING
            MESSAGE = 'duplicate key value violates unique constraint "runevent_unique_event_per_automation"',
            DETAIL = format('Key (automation_id, event_id)=(%s, %s) already exists.', NEW.automation_id, NEW.event_id),
            CONSTRAINT = 'runevent_unique_event_per_automation',
            TABLE = 'health_runevent';
    END IF;
    IF claimed <> NEW.started_at THEN
        UPDATE health_runevent_identity SET started_at = NEW.started_at
        WHERE automation_id = NEW.automation_id AND event_id = NEW.event_id;
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION health_runevent_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('health.keep_identity', true) = 'on' THEN
        RETURN NULL;
    END IF;
    DELETE FROM health_runevent_identity
    WHERE automation_id = OLD.automation_id AND event_id = OLD.event_id AND started_at = OLD.started_at;
    RETURN NULL;
END $$;

CREATE FUNCTION health_runevent_forget_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE health_runevent_identity;
    RETURN NULL;
END $$;

CREATE TRIGGER health_runevent_claim BEFORE INSERT ON health_runevent
    FOR EACH ROW EXECUTE FUNCTION health_runevent_claim();
CREATE TRIGGER health_runevent_forget AFTER DELETE ON health_runevent
    FOR EACH ROW EXECUTE FUNCTION health_runevent_forget();
CREATE TRIGGER health_runevent_forget_all AFTER TRUNCATE ON health_runevent
    FOR EACH STATEMENT EXECUTE FUNCTION health_runevent_forget_all();
"""


def _months(first, last):
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        yield year, month
        year, month = year + (month == 12), month % 12 + 1


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("LOCK TABLE health_runevent IN ACCESS EXCLUSIVE MODE")
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'health_runevent'::regclass AND contype = 'f'"
        )
        fk = cursor.fetchone()[0]
        cursor.execute("ALTER TABLE health_runevent RENAME TO health_runevent_unpartitioned")
        cursor.execute("ALTER TABLE health_runevent_unpartitioned ALTER COLUMN id DROP IDENTITY")
        cursor.execute(
            "CREATE TABLE health_runevent (LIKE health_runevent_unpartitioned INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS) PARTITION BY RANGE (started_at)"
        )
        # The id keeps counting where it was; a sequence, not an identity column (PostgreSQL < 17
        # has no identity columns on partitioned tables).
        cursor.execute("CREATE SEQUENCE health_runevent_id_seq AS bigint OWNED BY health_runevent.id")
        cursor.execute(
            "SELECT setval('health_runevent_id_seq', COALESCE((SELECT max(id) FROM health_runevent_unpartitioned), 0)"
            " + 1, false)"
        )
        cursor.execute("ALTER TABLE health_runevent ALTER COLUMN id SET DEFAULT nextval('health_runevent_id_seq')")
        cursor.execute(
            "SELECT (min(started_at) AT TIME ZONE 'UTC')::date, (max(started_at) AT TIME ZONE 'UTC')::date, "
            "(now() AT TIME ZONE 'UTC')::date FROM health_runevent_unpartitioned"
        )
        first, last, today = cursor.fetchone()
        first = min(first or today, today)
        ahead = today
        for _ in range(AHEAD_MONTHS):
            ahead = ahead.replace(day=1)
            ahead = ahead.replace(year=ahead.year + (ahead.month == 12), month=ahead.month % 12 + 1)
        for year, month in _months(first, max(last or ahead, ahead)):
            nyear, nmonth = year + (month == 12), month % 12 + 1
            cursor.execute(
                f"CREATE TABLE health_runevent_y{year:04d}m{month:02d} PARTITION OF health_runevent FOR VALUES "
                f"FROM ('{year:04d}-{month:02d}-01 00:00+00') TO ('{nyear:04d}-{nmonth:02d}-01 00:00+00')"
            )
        cursor.execute("CREATE TABLE health_runevent_default PARTITION OF health_runevent DEFAULT")
        cursor.execute("INSERT INTO health_runevent SELECT * FROM health_runevent_unpartitioned")
        cursor.execute("DROP TABLE health_runevent_unpartitioned")
        cursor.execute("ALTER TABLE health_runevent ADD CONSTRAINT health_runevent_pkey PRIMARY KEY (id, started_at)")
        cursor.execute(
            f"ALTER TABLE health_runevent ADD CONSTRAINT {fk} FOREIGN KEY (automation_id) "
            "REFERENCES registry_automation (id) DEFERRABLE INITIALLY DEFERRED"
        )
        cursor.execute(INDEXES)
        cursor.execute(
            "CREATE TABLE health_runevent_identity (automation_id bigint NOT NULL, event_id varchar(200) NOT NULL, "
            "started_at timestamptz NOT NULL, "
            "CONSTRAINT runevent_unique_event_per_automation UNIQUE (automation_id, event_id))"
        )
        cursor.execute("CREATE INDEX health_runevent_identity_started_idx ON health_runevent_identity (started_at)")
        cursor.execute(
            "INSERT INTO health_runevent_identity (automation_id, event_id, started_at) "
            "SELECT automation_id, event_id, started_at FROM health_runevent"
        )
        cursor.execute(TRIGGERS)
        cursor.execute("ANALYZE health_runevent")


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("LOCK TABLE health_runevent IN ACCESS EXCLUSIVE MODE")
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'health_runevent'::regclass AND contype = 'f'"
        )
        fk = cursor.fetchone()[0]
        cursor.execute("CREATE TABLE health_runevent_unpartitioned (LIKE health_runevent INCLUDING CONSTRAINTS)")
        cursor.execute("INSERT INTO health_runevent_unpartitioned SELECT * FROM health_runevent")
        cursor.execute("SELECT COALESCE(max(id), 0) + 1 FROM health_runevent")
        next_id = cursor.fetchone()[0]
        cursor.execute("DROP TABLE health_runevent CASCADE")
        cursor.execute("DROP TABLE health_runevent_identity")
        cursor.execute("DROP FUNCTION health_runevent_claim(), health_runevent_forget(), health_runevent_forget_all()")
        cursor.execute("ALTER TABLE health_runevent_unpartitioned RENAME TO health_runevent")
        cursor.execute(
            f"ALTER TABLE health_runevent ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY (START {next_id})"
        )
        cursor.execute("ALTER TABLE health_runevent ADD CONSTRAINT health_runevent_pkey PRIMARY KEY (id)")
        cursor.execute(
            f"ALTER TABLE health_runevent ADD CONSTRAINT {fk} FOREIGN KEY (automation_id) "
            "REFERENCES registry_automation (id) DEFERRABLE INITIALLY DEFERRED"
        )
        cursor.execute(
            "ALTER TABLE health_runevent ADD CONSTRAINT runevent_unique_event_per_automation "
            "UNIQUE (automation_id, event_id)"
        )
        cursor.execute(UNPARTITIONED_INDEXES)


class Migration(migrations.Migration):
    dependencies = [
        ("health", "0009_incident_loop"),
    ]

    operations = [migrations.RunPython(partition, unpartition)]
