"""The review cadence in days, generated again from the new choices (quarterly 90 days, twice a
year 180): a migration of its own, because PostgreSQL cannot alter a table in the transaction that
has just written rows to it (0003's data migration)."""

import django.db.models.functions.comparison
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0003_review_cadence_floor"),
    ]

    operations = [
        migrations.AddField(
            model_name='automation',
            name='review_cadence_days',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.functions.comparison.Coalesce('review_cadence', models.Case(models.When(models.Q(('affects_customer_communication', True), ('affects_forecast_or_board_metrics', True), ('reassigns_strategic_ownership', True), ('triggers_pricing_workflow', True), ('affects_revenue_recognition', True), ('merges_records', True), ('flags_churn_in_exec_reporting', True), ('creates_expansion_pipeline', True), ('uses_ai', True), ('risk_tier_override', 'high'), _connector='OR'), then=models.Value(30)), models.When(models.Q(('assigns_ownership', True), ('updates_noncritical_fields', True), ('creates_internal_tasks', True), ('risk_tier_override', 'medium'), _connector='OR'), then=models.Value(90)), default=models.Value(180)), output_field=models.PositiveSmallIntegerField()), output_field=models.PositiveSmallIntegerField(), verbose_name='review cadence in days'),
        ),
        migrations.AddField(
            model_name='historicalautomation',
            name='review_cadence_days',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.functions.comparison.Coalesce('review_cadence', models.Case(models.When(models.Q(('affects_customer_communication', True), ('affects_forecast_or_board_metrics', True), ('reassigns_strategic_ownership', True), ('triggers_pricing_workflow', True), ('affects_revenue_recognition', True), ('merges_records', True), ('flags_churn_in_exec_reporting', True), ('creates_expansion_pipeline', True), ('uses_ai', True), ('risk_tier_override', 'high'), _connector='OR'), then=models.Value(30)), models.When(models.Q(('assigns_ownership', True), ('updates_noncritical_fields', True), ('creates_internal_tasks', True), ('risk_tier_override', 'medium'), _connector='OR'), then=models.Value(90)), default=models.Value(180)), output_field=models.PositiveSmallIntegerField()), output_field=models.PositiveSmallIntegerField(), verbose_name='review cadence in days'),
        ),
    ]
