"""The storage of run events on PostgreSQL: health_runevent is partitioned by month of started_at
(UTC months, native declarative partitioning, migration 0010), with a DEFAULT partition so an
insert never fails for want of a partition. The daily task (health.services.runs_partitions_prepare)
creates the coming months ahead and splits out of the DEFAULT partition any month that received
rows there; retention (health.services.runs_purge) drops whole months.

A PostgreSQL unique index on a partitioned table must contain the partition key, so the identity
of a run, (automation, event_id), lives in health_runevent_identity, a plain table with the unique
constraint runevent_unique_event_per_automation: a trigger claims the identity before each row is
stored (a second row with a claimed identity raises the unique violation, whatever its month), and
forgets it when the row is deleted. The batch ingest claims the identities itself (INSERT … ON
CONFLICT DO NOTHING) and stores only the runs it claimed (health.services._insert_returning).

On SQLite (the embedded default) health_runevent is one plain table with its unique constraint:
every function here is a no-op there. Pure storage: no rule of the guide lives here."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import connection

TABLE = "health_runevent"
IDENTITY_TABLE = "health_runevent_identity"
DEFAULT_PARTITION = "health_runevent_default"
# Set for one transaction while rows move between partitions: the delete trigger keeps their identity.
KEEP_IDENTITY = "health.keep_identity"


def partitioned() -> bool:
    """Whether health_runevent is the partitioned table: on PostgreSQL, from migration 0010 on."""
    return connection.vendor == "postgresql"


def month_start(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{TABLE}_y{month.year:04d}m{month.month:02d}"


def _bound(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Partition:
    name: str
    month: date | None  # None: the DEFAULT partition

    @property
    def start(self) -> datetime:
        return _bound(self.month)

    @property
    def end(self) -> datetime:
        return _bound(next_month(self.month))


def partitions() -> list[Partition]:
    """The partitions of health_runevent, months in order, the DEFAULT one last."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        rows = cursor.fetchall()
    months, default = [], []
    for name, bound in rows:
        if bound == "DEFAULT":
            default.append(Partition(name, None))
        else:
            # FOR VALUES FROM ('2026-12-01 00:00:00+00') TO (…): the month of the lower bound.
            lower = bound.split("'")[1]
            months.append(Partition(name, date(int(lower[:4]), int(lower[5:7]), 1)))
    return sorted(months, key=lambda p: p.month) + default


def months_in_default() -> list[date]:
    """The months of the rows the DEFAULT partition holds (one index-only pass with few months)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT date_trunc('month', started_at AT TIME ZONE 'UTC')::date FROM {DEFAULT_PARTITION} "
            "ORDER BY 1"
        )
        return [row[0] for row in cursor.fetchall()]


def partition_create(month: date) -> int:
    """Create the month's partition, moving into it the rows the DEFAULT partition holds for that
    month (their identities are kept). Created detached and then attached, so inserts into the
    other months never wait for it. Returns how many rows moved. Call inside a transaction."""
    name, start, end = partition_name(month), _bound(month), _bound(next_month(month))
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute("SELECT set_config(%s, 'on', true)", [KEEP_IDENTITY])
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE started_at >= %s AND started_at < %s "
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved",
            [start, end],
        )
        moved = cursor.rowcount
        cursor.execute("SELECT set_config(%s, '', true)", [KEEP_IDENTITY])
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [start, end])
    return moved


def partition_drop(partition: Partition) -> int:
    """Drop a whole month: no row is deleted, nothing is left to vacuum. Returns how many run
    events it held. The identities of its runs are forgotten afterwards (identities_forget)."""
    with connection.cursor() as cursor:
        # Deferred foreign-key checks of rows written earlier in this transaction run now (a table
        # with pending trigger events cannot be dropped).
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"SELECT count(*) FROM {partition.name}")
        count = cursor.fetchone()[0]
        cursor.execute(f"DROP TABLE {partition.name}")
    return count


def default_purge(*, before: datetime) -> int:
    """Delete the rows of the DEFAULT partition that started before `before` (runs from months that
    had no partition); their identities go with them (the delete trigger)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {DEFAULT_PARTITION} WHERE started_at < %s", [before])
        return cursor.rowcount


def identities_forget(*, before: datetime, batch: int) -> int:
    """Delete up to `batch` identities of runs that started before `before` (their months are
    about to be dropped). Returns how many were deleted."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {IDENTITY_TABLE} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {IDENTITY_TABLE} "
            "WHERE started_at < %s LIMIT %s))",
            [before, batch],
        )
        return cursor.rowcount
