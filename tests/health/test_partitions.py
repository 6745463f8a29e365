"""Run events partitioned by month on PostgreSQL (health.partitions, migration 0010): the identity of
a run holds across months, partitions are made ahead and split out of the DEFAULT one, retention
drops whole months. SQLite keeps one plain table: the identity rule is checked there too, the
partition shape only on PostgreSQL."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from health import partitions, services
from health.models import RunEvent
from tests.health.factories import RunEventFactory
from tests.registry.factories import AutomationFactory

ON_POSTGRESQL = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the partitioned table is PostgreSQL's; SQLite keeps one plain table"
)
NOV, DEC = datetime(2026, 11, 20, 9, 0, tzinfo=UTC), datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def report(automation, event_id, started_at, **extra):
    return {
        "automation": automation.key,
        "event_id": event_id,
        "started_at": started_at.isoformat(),
        "finished_at": (started_at + timedelta(seconds=3)).isoformat(),
        "outcome": "success",
        **extra,
    }


def identities(automation) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {partitions.IDENTITY_TABLE} WHERE automation_id = %s", [automation.pk])
        return cursor.fetchone()[0]


def partition_of(run: RunEvent) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT tableoid::regclass::text FROM {partitions.TABLE} WHERE id = %s AND started_at = %s",
            [run.pk, run.started_at],
        )
        return cursor.fetchone()[0]


# --- One run, one identity, whatever its month ------------------------------------------------
@pytest.mark.django_db
def test_the_same_event_id_sent_in_two_different_months_is_one_event(admin):
    automation = AutomationFactory()
    first = services.runs_ingest(items=[report(automation, "e-1", NOV)], by=admin)
    again = services.runs_ingest(items=[report(automation, "e-1", DEC)], by=admin)
    assert first.summary["created"] == 1 and again.summary["created"] == 0
    assert again.results[0]["status"] == "error" and "started_at" in again.results[0]["fields"]
    assert list(RunEvent.objects.values_list("event_id", "started_at")) == [("e-1", NOV)]


@pytest.mark.django_db
def test_a_second_row_of_a_stored_run_in_another_month_is_refused_by_the_database():
    run = RunEventFactory(started_at=NOV)
    with pytest.raises(IntegrityError), transaction.atomic():
        RunEventFactory(automation=run.automation, event_id=run.event_id, started_at=DEC)
    assert RunEvent.objects.count() == 1


@pytest.mark.django_db
@ON_POSTGRESQL
def test_a_deleted_run_frees_its_identity_and_rows_are_stored_in_their_months_partition(admin):
    run = RunEventFactory(started_at=DEC)
    assert partition_of(run) == "health_runevent_y2026m12" and identities(run.automation) == 1
    run.delete()
    assert identities(run.automation) == 0
    again = RunEventFactory(automation=run.automation, event_id=run.event_id, started_at=NOV)
    assert identities(run.automation) == 1 and RunEvent.objects.get().pk == again.pk


# --- Partitions made ahead; the DEFAULT partition split ---------------------------------------
@pytest.mark.django_db
@ON_POSTGRESQL
def test_prepare_creates_this_month_and_the_months_ahead_once(settings):
    settings.REVOPS = {**settings.REVOPS, "HEALTH_PARTITIONS_AHEAD": 2}
    now = datetime(2031, 5, 17, tzinfo=UTC)
    created = services.runs_partitions_prepare(now=now)
    assert created == ["health_runevent_y2031m05", "health_runevent_y2031m06", "health_runevent_y2031m07"]
    assert services.runs_partitions_prepare(now=now) == []
    months = [p.month for p in partitions.partitions() if p.month]
    assert {date(2031, 5, 1), date(2031, 6, 1), date(2031, 7, 1)} <= set(months)
    assert partitions.partitions()[-1].name == partitions.DEFAULT_PARTITION


@pytest.mark.django_db
@ON_POSTGRESQL
def test_a_run_with_no_partition_for_its_month_is_kept_in_default_then_split_out_with_its_identity(admin):
    automation = AutomationFactory()
    later = datetime(2031, 8, 2, tzinfo=UTC)
    services.runs_ingest(items=[report(automation, "far", later)], by=admin)
    run = RunEvent.objects.get()
    assert partition_of(run) == partitions.DEFAULT_PARTITION
    assert "health_runevent_y2031m08" in services.runs_partitions_prepare(now=datetime(2031, 7, 1, tzinfo=UTC))
    assert partition_of(run) == "health_runevent_y2031m08"
    assert not partitions.months_in_default()
    # Its identity moved with it: sent again it is the same run.
    again = services.runs_ingest(items=[report(automation, "far", later)], by=admin)
    assert again.results[0]["status"] == "duplicate" and RunEvent.objects.count() == 1 and identities(automation) == 1


# --- Retention drops whole months ---------------------------------------------------------------
@pytest.mark.django_db
@ON_POSTGRESQL
def test_retention_drops_the_months_wholly_past_it_and_keeps_the_month_it_ends_in(settings, admin):
    settings.REVOPS = {**settings.REVOPS, "HEALTH_RUN_RETENTION_DAYS": 60, "HEALTH_PARTITIONS_AHEAD": 3}
    automation = AutomationFactory()
    services.runs_partitions_prepare(now=datetime(2031, 1, 10, tzinfo=UTC))  # January to April 2031
    jan = [report(automation, f"jan-{i}", datetime(2031, 1, 5 + i, tzinfo=UTC)) for i in range(3)]
    feb = [report(automation, "feb-1", datetime(2031, 2, 3, tzinfo=UTC))]
    mar = [report(automation, "mar-1", datetime(2031, 3, 30, tzinfo=UTC))]
    services.runs_ingest(items=jan + feb + mar, by=admin)
    now = datetime(2031, 4, 20, tzinfo=UTC)  # retention ends on 19 February: January is wholly past it
    assert services.runs_purge(now=now) == 3
    names = [p.name for p in partitions.partitions()]
    assert "health_runevent_y2031m01" not in names and "health_runevent_y2031m02" in names
    # February is kept whole until March is past retention: a run is kept less than a month longer.
    assert set(RunEvent.objects.values_list("event_id", flat=True)) == {"feb-1", "mar-1"}
    assert identities(automation) == 2
    # A run of a dropped month sent again is stored afresh, in the DEFAULT partition.
    again = services.runs_ingest(items=jan[:1], by=admin)
    assert again.summary["created"] == 1


@pytest.mark.django_db
@ON_POSTGRESQL
def test_retention_deletes_the_rows_past_it_in_the_default_partition():
    old = RunEventFactory(started_at=datetime(2001, 3, 1, tzinfo=UTC))
    RunEventFactory(started_at=datetime.now(UTC))
    assert partition_of(old) == partitions.DEFAULT_PARTITION
    assert services.runs_purge() == 1
    assert not RunEvent.objects.filter(pk=old.pk).exists() and identities(old.automation) == 0


# --- The migration converts the existing table --------------------------------------------------
@pytest.mark.django_db(transaction=True)
@ON_POSTGRESQL
def test_the_migration_partitions_the_existing_table_without_losing_a_row():
    executor = MigrationExecutor(connection)
    before, after = [("health", "0009_incident_loop")], [("health", "0010_runevent_partitioned_by_month")]
    executor.migrate(before)
    try:
        automation = AutomationFactory()
        starts = [datetime(2025, 7, 14, tzinfo=UTC), datetime(2026, 1, 31, 23, 59, tzinfo=UTC), datetime.now(UTC)]
        with connection.cursor() as cursor:
            assert cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'health_runevent'") or True
            assert cursor.fetchone()[0] == "r"
            for i, start in enumerate(starts * 100):
                cursor.execute(
                    "INSERT INTO health_runevent (automation_id, event_id, started_at, outcome, mode, trigger_key, "
                    "action, human_outcome, fields_changed, reporting_critical_changed, owner_assigned, overridden, "
                    "override_reason, alerts_sent, error, manual_reassignment, received_at) VALUES "
                    "(%s, %s, %s, 'success', 'live', '', '', '', '[]', false, '', false, '', 0, '', false, now())",
                    [automation.pk, f"old-{i}", start],
                )
            cursor.execute("SELECT id, event_id, started_at FROM health_runevent ORDER BY id")
            rows = cursor.fetchall()
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(after)
        with connection.cursor() as cursor:
            cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'health_runevent'")
            assert cursor.fetchone()[0] == "p"
            cursor.execute("SELECT id, event_id, started_at FROM health_runevent ORDER BY id")
            assert cursor.fetchall() == rows
        assert identities(automation) == 300
        names = {p.name for p in partitions.partitions()}
        assert {"health_runevent_y2025m07", "health_runevent_y2025m12", "health_runevent_y2026m01"} <= names
        # The ids go on from the last one, and the identity of each stored run holds.
        assert RunEventFactory(automation=automation).pk > rows[-1][0]
        with pytest.raises(IntegrityError), transaction.atomic():
            RunEventFactory(automation=automation, event_id="old-0")
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
