"""LifecycleMove belongs to the registry now (registry 0006 took over its table)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0006_testcase_results_are_runs"),
        ("registry", "0006_lifecyclemove"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="LifecycleMove")],
            database_operations=[],
        ),
    ]
