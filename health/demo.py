"""Demo run events and findings: 30 days of runs for the live and shadow demo automations, with a
few realistic troubles (a routing rule people keep overriding, a noisy alert, a sync running on
stale data, a flow failing more than it used to), then one monitor pass and last month's health
review. Runs reach back to the first day of last month, so its review has a whole month of them.
Idempotent: event ids are fixed, so loading again stores nothing twice, the pass only confirms the
findings, and the month's review exists once."""

import random
from datetime import timedelta

from django.utils import timezone

from registry.models import Automation

from .models import RunEvent
from .monitors import monitors_run
from .reviews.compute import previous_month
from .reviews.services import monthly_review_run

DAYS = 30


def _days(now) -> int:
    """At least DAYS, and back to the first day of last month (the month the review covers)."""
    return max(DAYS, (timezone.localtime(now).date() - previous_month(now)).days)


def _runs_for(automation, index, now, rng):
    trouble = index if index < 4 else None  # 0: failing lately, 1: overridden routing, 2: noisy, 3: stale data
    runs = [
        # A run a few minutes ago, so the scheduled ones are on time.
        RunEvent(
            automation=automation,
            event_id="demo-latest",
            started_at=now - timedelta(minutes=5),
            finished_at=now - timedelta(minutes=4),
            outcome="success",
            mode="shadow" if automation.status == "shadow" else "live",
            records_affected=3,
        )
    ]
    for day in range(_days(now), 0, -1):
        for slot in range(4):
            started = (now - timedelta(days=day)).replace(hour=6 + slot * 3, minute=0, second=0, microsecond=0)
            recent = day <= 5
            failed = rng.random() < (0.6 if trouble == 0 and recent else 0.03)
            task = rng.random() < 0.5
            runs.append(
                RunEvent(
                    automation=automation,
                    event_id=f"demo-{started:%Y%m%d%H}",
                    started_at=started,
                    finished_at=started + timedelta(seconds=rng.randint(2, 90)),
                    outcome="failure" if failed else "success",
                    mode="shadow" if automation.status == "shadow" else "live",
                    records_affected=rng.randint(1, 12),
                    owner_assigned=rng.choice(["dana.sales", "sam.sdr", "li.ae"]) if trouble == 1 else "",
                    overridden=trouble == 1 and rng.random() < 0.45,
                    override_reason="Named account belongs to the strategic team" if trouble == 1 else "",
                    alerts_sent=rng.randint(15, 30) if trouble == 2 else int(task),
                    data_as_of=started - timedelta(hours=36 if trouble == 3 and recent else 1),
                    staleness_seconds=(36 if trouble == 3 and recent else 1) * 3600,
                    error="FIELD_CUSTOM_VALIDATION_EXCEPTION: Segment__c is required" if failed else "",
                    response_time_seconds=rng.randint(60, 900),
                    sla_met=rng.random() > 0.1,
                    task_created=task,
                    # The noisy one's alerts rarely lead to a completed task.
                    task_completed=task and rng.random() < (0.15 if trouble == 2 else 0.9),
                    # The overridden routing rule costs an admin a quarter hour a day in cleanup.
                    maintenance_minutes=15 if trouble == 1 and slot == 0 else None,
                )
            )
    return runs


def load(*, stdout=None) -> int:
    automations = list(Automation.objects.filter(status__in=("live", "shadow")).order_by("key"))
    if not automations:
        return 0
    now = timezone.now()
    created = 0
    if not RunEvent.objects.filter(event_id__startswith="demo-").exists():
        rng = random.Random(7)
        runs = [run for index, automation in enumerate(automations) for run in _runs_for(automation, index, now, rng)]
        RunEvent.objects.bulk_create(runs, ignore_conflicts=True, batch_size=1000)
        created += len(runs) + monitors_run(now=now)["opened"]
    review, made = monthly_review_run(now=now)
    return created + (review.rows.count() if made else 0)
