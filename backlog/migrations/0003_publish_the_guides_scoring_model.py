"""Issue 15 §5: publish the scoring model "as the guide says it" as a new version.

Every factor raises the score (risk too; maintenance 5 = easy to support after launch), with the
guide's default weights. Candidates already scored keep their score under the version that
produced it (no re-score here), and their pages show that version's arithmetic; the next scoring
of a candidate uses this version."""

from decimal import Decimal

from django.db import migrations

# Frozen here: the migration must publish the same weights whatever rules.py says later.
GUIDE_WEIGHTS = {
    "volume": Decimal("3"),
    "risk": Decimal("3"),
    "rule_clarity": Decimal("3"),
    "data_readiness": Decimal("2"),
    "exception_clarity": Decimal("1.5"),
    "user_impact": Decimal("2"),
    "maintenance_cost": Decimal("1"),
}
REASON = (
    "Issue 15 §5, the guide's table: volume, risk, rule clarity, data readiness, exception clarity, "
    "user impact and maintenance (supportable after launch) each raise the score. Scores of earlier "
    "versions stay under their version until the candidate is scored again."
)


def publish(apps, schema_editor):
    ScoringModel = apps.get_model("backlog", "ScoringModel")
    if ScoringModel.objects.filter(method="guide", reason=REASON).exists():
        return
    latest = ScoringModel.objects.order_by("-version").first()
    ScoringModel.objects.create(
        version=(latest.version + 1) if latest else 1,
        method="guide",
        reason=REASON,
        created_by=None,
        **{f"weight_{name}": weight for name, weight in GUIDE_WEIGHTS.items()},
    )


def unpublish(apps, schema_editor):
    ScoringModel = apps.get_model("backlog", "ScoringModel")
    Candidate = apps.get_model("backlog", "Candidate")
    for model in ScoringModel.objects.filter(method="guide", reason=REASON):
        if not Candidate.objects.filter(scoring_model=model).exists():
            model.delete()


class Migration(migrations.Migration):
    dependencies = [("backlog", "0002_scoring_method_and_promotion_override")]

    operations = [migrations.RunPython(publish, unpublish)]
