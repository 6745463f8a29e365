"""The periodic tasks on real Celery workers: run twice, or by two workers at once, they open
nothing twice and send nothing twice."""

from datetime import UTC, datetime, timedelta

import pytest
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from health import tasks
from health.models import Finding, RunEvent
from registry.models import Hold
from revops_gov.models import Delivery
from tests.conftest import start_worker, stop_worker, wait_for
from tests.factories import UserFactory
from tests.registry.factories import AutomationFactory


def _mail_count(folder) -> int:
    return sum(path.read_text().count("\nSubject: ") for path in folder.glob("*")) if folder.exists() else 0


def _run_on_two_workers(tmp_path, *, name: str, mail_dir, send) -> None:
    """Start two real workers on a private queue (mail to files in `mail_dir`), call
    `send(queue)` to enqueue tasks, wait until every task finished and the outbox is empty (its
    deliveries go to the same queue), stop both."""
    queue = f"{name}-{tmp_path.name[-8:]}"
    env = {"EMAIL_URL": f"filemail:///{mail_dir}", "REVOPS_OUTBOX_QUEUE": queue}  # absolute: the extra slash
    workers = []
    for i in range(2):
        folder = tmp_path / f"w{i}"
        folder.mkdir()
        workers.append(start_worker(folder, queue=queue, extra_env=env))
    try:
        results = send(queue)
        # Usually both workers take some; one may prefetch them all, which must be just as right.
        wait_for(
            lambda: sum(w.output().count("succeeded") for w in workers) >= len(results),
            timeout=60,
            message=f"{len(results)} {name} tasks to finish on two workers",
        )
        wait_for(
            lambda: not Delivery.objects.filter(status="pending").exists(),
            timeout=60,
            message="the outbox to send every delivery",
        )
    finally:
        for worker in workers:
            stop_worker(worker)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_monitors_and_alerts_open_and_send_once(tmp_path):
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    owner = UserFactory()
    now = timezone.now()
    for n in range(3):
        automation = AutomationFactory(failure_owner=owner, rule_owner=owner)
        RunEvent.objects.bulk_create(
            [
                RunEvent(
                    automation=automation,
                    event_id=f"{n}-{i}",
                    started_at=now - timedelta(hours=i + 1),
                    outcome="failure",
                    trigger_key="same" if i < 2 else "",
                )
                for i in range(6)
            ]
        )
    _run_on_two_workers(
        tmp_path,
        name="health",
        mail_dir=mail_dir,
        send=lambda queue: (
            [tasks.monitors_run.apply_async(queue=queue) for _ in range(4)]
            + [tasks.findings_alert.apply_async(queue=queue) for _ in range(4)]
        ),
    )
    # Three failing automations, each failing too often and running twice for one trigger:
    kinds = sorted(Finding.objects.values_list("kind", flat=True))
    assert kinds == ["failure_rate_up"] * 3 + ["ran_twice"] * 3
    assert Hold.objects.filter(source="health", released_at__isnull=True).count() == 3
    assert Finding.objects.filter(notified_at__isnull=True).count() == 0
    assert _mail_count(mail_dir) == 6


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_review_reminders_remind_once_in_one_digest(tmp_path):
    from health.models import ReviewReminder

    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    owner = UserFactory()
    for _ in range(3):
        AutomationFactory(rule_owner=owner, review_cadence=30, last_reviewed_at=timezone.now() - timedelta(days=40))
    _run_on_two_workers(
        tmp_path,
        name="reminders",
        mail_dir=mail_dir,
        send=lambda queue: [tasks.review_reminders_send.apply_async(queue=queue) for _ in range(4)],
    )
    assert ReviewReminder.objects.filter(owner=owner).count() == 3
    assert _mail_count(mail_dir) == 1


# --- The beat schedule -------------------------------------------------------------------------
DAILY = ("health-runs-purge", "health-monthly-review", "health-review-reminders", "health-digest")


def test_the_daily_tasks_run_at_a_fixed_time_of_day_a_few_minutes_apart():
    from django.conf import settings

    times = {name: settings.CELERY_BEAT_SCHEDULE[name]["schedule"] for name in DAILY}
    assert all(isinstance(schedule, crontab) for schedule in times.values())
    assert {name: (min(s.hour), min(s.minute)) for name, s in times.items()} == {
        "health-runs-purge": (6, 0),
        "health-monthly-review": (6, 5),
        "health-review-reminders": (6, 10),
        "health-digest": (6, 15),
    }
    assert all(s.day_of_week == set(range(7)) and len(s.hour) == 1 for s in times.values())


def test_the_run_event_partitions_are_prepared_daily_before_the_purge():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["health-runs-partitions"]
    assert entry["task"] == tasks.runs_partitions_prepare.name
    assert isinstance(entry["schedule"], crontab)
    assert (min(entry["schedule"].hour), min(entry["schedule"].minute)) == (5, 50)


def test_the_time_of_day_is_a_setting_and_a_bad_one_is_refused():
    from revops_gov.settings import daily_at

    schedule = daily_at("23:50", plus_minutes=15)
    assert (schedule.hour, schedule.minute) == ({0}, {5})
    for bad in ("6", "25:00", "06:61", "six"):
        with pytest.raises(ImproperlyConfigured):
            daily_at(bad)


@pytest.mark.django_db
def test_beat_stores_the_daily_tasks_as_crontabs_in_the_configured_time_zone(settings):
    """django-celery-beat copies the schedule into the database with the time zone, so 06:00 is
    06:00 where the team works, also across daylight saving time."""
    from celery import current_app
    from django_celery_beat.models import CrontabSchedule
    from django_celery_beat.schedulers import ModelEntry

    current_app.conf.timezone = "Europe/Berlin"
    try:
        entry = settings.CELERY_BEAT_SCHEDULE["health-runs-purge"]
        ModelEntry.from_entry("health-runs-purge", app=current_app, **entry)
        stored = CrontabSchedule.objects.get()
        assert (stored.hour, stored.minute, str(stored.timezone)) == ("6", "0", "Europe/Berlin")
        # 05:00 UTC is 06:00 in Berlin in winter: due then, not at 06:00 UTC.
        last_run = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
        schedule = stored.schedule
        assert schedule.remaining_delta(last_run)[0].astimezone(UTC) == last_run
        assert schedule.remaining_estimate(last_run) <= timedelta(days=1)
    finally:
        current_app.conf.timezone = settings.CELERY_TIMEZONE
