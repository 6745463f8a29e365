"""The runs page's indexes on health_runevent, built without locking the table on PostgreSQL
(CREATE INDEX CONCURRENTLY, outside a transaction) — the table holds millions of rows. The new
(automation, started_at, id) index serves everything the old (automation, started_at) one did,
so the old one is dropped once the new one exists."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgreSQL(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL; a plain CREATE INDEX elsewhere (SQLite)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class RemoveIndexConcurrentlyOnPostgreSQL(RemoveIndexConcurrently):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.RemoveIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.RemoveIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("health", "0005_late_run_facts_timed_out"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgreSQL(
            model_name="runevent",
            index=models.Index(fields=["automation", "started_at", "id"], name="runevent_auto_started_id_idx"),
        ),
        AddIndexConcurrentlyOnPostgreSQL(
            model_name="runevent",
            index=models.Index(
                condition=models.Q(("outcome__in", ("failure", "skipped", "running", "timed_out"))),
                fields=["automation", "outcome", "started_at", "id"],
                name="runevent_auto_rare_outcome_idx",
            ),
        ),
        RemoveIndexConcurrentlyOnPostgreSQL(model_name="runevent", name="runevent_auto_started_idx"),
    ]
