"""The registry owns the history of an automation's lifecycle status: the model moves here from
approvals with its table (approvals_lifecyclemove), so no row moves; the state changes only."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

STATUSES = [
    ("proposed", "Proposed"),
    ("in_design", "In design"),
    ("approved", "Approved"),
    ("shadow", "Shadow"),
    ("live", "Live"),
    ("paused", "Paused"),
    ("retired", "Retired"),
    ("discovered", "Discovered"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_lifecycle_status_discovered"),
        # The table was created by approvals.
        ("approvals", "0004_chat_action"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="LifecycleMove",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("from_status", models.CharField(choices=STATUSES, max_length=20, verbose_name="from")),
                        ("to_status", models.CharField(choices=STATUSES, max_length=20, verbose_name="to")),
                        ("automation_version", models.PositiveIntegerField(verbose_name="automation version")),
                        ("reason", models.TextField(verbose_name="reason")),
                        ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="when")),
                        (
                            "automation",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="lifecycle_moves",
                                to="registry.automation",
                            ),
                        ),
                        (
                            "by",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "lifecycle move",
                        "ordering": ["-created_at", "-pk"],
                        "db_table": "approvals_lifecyclemove",
                        "indexes": [models.Index(fields=["automation", "to_status"], name="move_automation_to_idx")],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="lifecyclemove",
            name="gates_checked",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="The conditions of the move's gate, each met when it moved.",
                verbose_name="gates checked",
            ),
        ),
    ]
