"""A readiness tick confirms an item for one registry version: existing ticks are taken to confirm
their automation's current version (what they meant when they were made)."""

from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def fill(apps, schema_editor):
    Tick = apps.get_model("approvals", "ReadinessTick")
    Automation = apps.get_model("registry", "Automation")
    version = Subquery(Automation.objects.filter(pk=OuterRef("automation_id")).values("version")[:1])
    Tick.objects.update(automation_version=version)
    HistoricalTick = apps.get_model("approvals", "HistoricalReadinessTick")
    HistoricalTick.objects.update(automation_version=version)


class Migration(migrations.Migration):
    dependencies = [("approvals", "0007_lifecyclemove_to_registry")]

    operations = [
        migrations.AddField(
            model_name="readinesstick",
            name="automation_version",
            field=models.PositiveIntegerField(default=1, verbose_name="automation version"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="historicalreadinesstick",
            name="automation_version",
            field=models.PositiveIntegerField(default=1, verbose_name="automation version"),
            preserve_default=False,
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="readinesstick",
            name="automation_version",
            field=models.PositiveIntegerField(
                help_text="The registry version it was confirmed for; a later version needs it again.",
                verbose_name="automation version",
            ),
        ),
        migrations.AlterField(
            model_name="historicalreadinesstick",
            name="automation_version",
            field=models.PositiveIntegerField(
                help_text="The registry version it was confirmed for; a later version needs it again.",
                verbose_name="automation version",
            ),
        ),
    ]
