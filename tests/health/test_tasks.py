"""The periodic tasks on real Celery workers: run twice, or by two workers at once, they open
nothing twice and send nothing twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from health import tasks
from health.models import Finding, RunEvent
from registry.models import Hold
from tests.conftest import start_worker, stop_worker, wait_for
from tests.factories import UserFactory
from tests.registry.factories import AutomationFactory


def _mail_count(folder) -> int:
    return sum(path.read_text().count("\nSubject: ") for path in folder.glob("*")) if folder.exists() else 0


def _run_on_two_workers(tmp_path, *, name: str, mail_dir, send) -> None:
    """Start two real workers on a private queue (mail to files in `mail_dir`), call
    `send(queue)` to enqueue tasks, wait until every task finished, stop both."""
    env = {"EMAIL_URL": f"filemail:///{mail_dir}"}  # an absolute path needs the extra slash
    queue = f"{name}-{tmp_path.name[-8:]}"
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
