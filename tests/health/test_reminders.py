"""Review reminders: the rule owner is reminded once per overdue cycle, the manager told once after
the grace period, one digest per person per run, a review starts a new cycle; running twice, or
twice at the same moment on PostgreSQL, sends nothing twice."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connection, connections
from django.urls import reverse

from approvals import services as approvals_services
from health import reminders
from health.models import ReviewReminder
from registry import services as registry_services
from registry.choices import LifecycleStatus, ReviewCadence
from revops_gov import outbox
from tests.approvals.factories import approved_packet, make_ready
from tests.factories import UserFactory
from tests.processes import free_port
from tests.registry.factories import AutomationFactory, ChangeEventFactory

NOW = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)
GRACE = timedelta(days=7)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """One beat run; the digests are sent when its transaction commits."""

    def _run():
        with django_capture_on_commit_callbacks(execute=True):
            return reminders.review_reminders_send()

    return _run


@pytest.fixture
def people(db):
    boss = UserFactory(username="boss", first_name="Bea", last_name="Boss")
    owner = UserFactory(username="owen", first_name="Owen", last_name="Owner", manager=boss)
    return owner, boss


def overdue(owner, name="Lead routing EMEA", **extra):
    """Reviewed 40 days ago on a monthly cadence: ten days overdue."""
    fields = {"review_cadence": ReviewCadence.MONTHLY, "last_reviewed_at": NOW - timedelta(days=40), **extra}
    return AutomationFactory(name=name, rule_owner=owner, **fields)


def test_settings_escalate_after_seven_days_by_default():
    assert settings.REVOPS["HEALTH_REVIEW_ESCALATE_AFTER"] == GRACE
    assert settings.CELERY_BEAT_SCHEDULE["health-review-reminders"]["task"] == "health.tasks.review_reminders_send"


def test_the_reminder_timeline_owner_once_then_manager_once_then_a_new_cycle(clock, run, people, admin):
    owner, boss = people
    automation = overdue(owner)

    # Day 0: the review is overdue, the rule owner is reminded.
    assert run() == {"reminded": 1, "escalated": 0, "digests": 1}
    assert [m.to for m in mail.outbox] == [["owen@example.com"]]
    assert "Lead routing EMEA: Monthly review cadence passed on 2026-10-23" in mail.outbox[0].body
    reminder = ReviewReminder.objects.get()
    assert (reminder.owner, reminder.reminded_at, reminder.escalated_at) == (owner, NOW, None)

    # A second run the same day, and every day of the grace period: nothing more.
    assert run() == {"reminded": 0, "escalated": 0, "digests": 0}
    clock.shift(GRACE - timedelta(minutes=1))
    assert run()["escalated"] == 0
    assert len(mail.outbox) == 1

    # After the grace period: the manager, once.
    clock.shift(timedelta(minutes=1))
    assert run() == {"reminded": 0, "escalated": 1, "digests": 1}
    assert mail.outbox[1].to == ["boss@example.com"]
    assert "Lead routing EMEA — rule owner Owen Owner, reminded 2026-11-02, still not reviewed" in mail.outbox[1].body
    reminder.refresh_from_db()
    assert (reminder.escalated_at, reminder.escalated_to) == (NOW + GRACE, boss)
    clock.shift(timedelta(days=1))
    assert run() == {"reminded": 0, "escalated": 0, "digests": 0}
    assert len(mail.outbox) == 2

    # Reviewed: the cycle closes; nothing is due, nothing is sent.
    registry_services.automation_mark_reviewed(automation=automation, by=admin, notes="Rule still current")
    clock.shift(timedelta(days=10))
    assert run() == {"reminded": 0, "escalated": 0, "digests": 0}

    # A month later it is due again: a new cycle, a new reminder.
    clock.shift(timedelta(days=21))
    assert run() == {"reminded": 1, "escalated": 0, "digests": 1}
    assert mail.outbox[2].to == ["owen@example.com"]
    assert ReviewReminder.objects.filter(automation=automation).count() == 2
    assert ReviewReminder.objects.filter(automation=automation, escalated_at__isnull=True).count() == 1


def test_a_reminder_is_recorded_as_sent_only_when_its_email_was_sent(clock, run, people, settings):
    """With the mail server down the reminder's delivery stays pending: nothing says the owner was
    reminded and the grace period does not start; the outbox's retry sends it and records it."""
    owner, boss = people
    overdue(owner)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nothing listens
    assert run()["reminded"] == 1
    reminder = ReviewReminder.objects.get()
    assert reminder.reminded_at is None and reminder.delivery.status == "pending"
    clock.shift(GRACE + timedelta(hours=1))
    assert run()["escalated"] == 0  # never reminded yet: no escalation

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert outbox.deliver_due() == {"sent": 1}
    reminder.refresh_from_db()
    assert reminder.reminded_at == NOW + GRACE + timedelta(hours=1)
    assert [m.to for m in mail.outbox] == [["owen@example.com"]]
    assert run() == {"reminded": 0, "escalated": 0, "digests": 0}


def test_a_review_during_the_grace_period_stops_the_escalation(clock, run, people, admin):
    owner, _ = people
    automation = overdue(owner)
    run()
    clock.shift(timedelta(days=3))
    registry_services.automation_mark_reviewed(automation=automation, by=admin, notes="Reviewed after the reminder")
    clock.shift(GRACE)
    assert run() == {"reminded": 0, "escalated": 0, "digests": 0}
    assert len(mail.outbox) == 1


def test_a_change_event_after_the_reminder_does_not_remind_twice_in_one_cycle(clock, run, people, admin):
    owner, _ = people
    automation = overdue(owner)
    run()
    ChangeEventFactory(recorded_by=admin, automations=[automation])
    assert run()["reminded"] == 0
    assert len(mail.outbox) == 1


def test_one_digest_per_person_listing_all_their_automations(clock, run, people):
    owner, boss = people
    other = UserFactory(username="olga", manager=boss)
    names = ["Lead routing EMEA", "SLA escalation", "Renewal alerts"]
    mine = [overdue(owner, name=name) for name in names]
    overdue(other, name="Duplicate detection")
    AutomationFactory(rule_owner=owner, name="Fresh one")  # reviewed today: not due

    assert run() == {"reminded": 4, "escalated": 0, "digests": 2}
    by_person = {m.to[0]: m for m in mail.outbox}
    assert set(by_person) == {"owen@example.com", "olga@example.com"}
    owens = by_person["owen@example.com"]
    assert owens.subject == "[RevOps Governance] 3 automation reviews overdue"
    for automation in mine:
        assert f"{automation.name}: Monthly review cadence passed" in owens.body
        assert f"{settings.REVOPS['SITE_URL'].rstrip('/')}{automation.get_absolute_url()}" in owens.body
    assert "Fresh one" not in owens.body and "Duplicate detection" not in owens.body
    assert by_person["olga@example.com"].subject == "[RevOps Governance] 1 automation review overdue"


def test_a_manager_who_owns_rules_gets_reminders_and_escalations_in_one_email(clock, run, people):
    owner, boss = people
    overdue(owner, name="Lead routing EMEA")
    run()
    clock.shift(GRACE)
    overdue(boss, name="Forecast hygiene", last_reviewed_at=NOW - timedelta(days=35))
    assert run() == {"reminded": 1, "escalated": 1, "digests": 1}
    email = mail.outbox[-1]
    assert email.to == ["boss@example.com"]
    assert "You own these rules" in email.body and "Forecast hygiene:" in email.body
    assert "Escalated to you" in email.body and "Lead routing EMEA — rule owner Owen Owner" in email.body


def test_no_manager_no_escalation_and_no_rule_owner_no_reminder(clock, run, admin):
    loner = UserFactory(username="lone")
    overdue(loner, name="Orphaned routing")
    overdue(None, name="Nobody's rule", failure_owner=loner, exception_owner=loner)
    assert run()["reminded"] == 1
    clock.shift(GRACE * 2)
    assert run() == {"reminded": 0, "escalated": 0, "digests": 0}
    assert [m.to for m in mail.outbox] == [["lone@example.com"]]


def test_retired_automations_are_never_reminded(clock, run, people):
    owner, _ = people
    overdue(owner, status=LifecycleStatus.RETIRED)
    assert run()["reminded"] == 0
    assert not mail.outbox


def test_running_twice_sends_nothing_twice(clock, run, people):
    owner, _ = people
    for name in ("A", "B"):
        overdue(owner, name=name)
    first = run()
    second = run()
    assert (first["reminded"], second["reminded"]) == (2, 0)
    assert len(mail.outbox) == 1
    clock.shift(GRACE)
    assert (run()["escalated"], run()["escalated"]) == (2, 0)
    assert len(mail.outbox) == 2
    assert ReviewReminder.objects.count() == 2


def test_the_post_launch_review_is_reminded_two_weeks_after_going_live(run, people, admin):
    owner, _ = people
    with time_machine.travel(NOW, tick=False) as clock:
        automation = AutomationFactory(name="Strategic lead routing", rule_owner=owner, status=LifecycleStatus.APPROVED)
        make_ready(automation, admin)
        approved_packet(automation)
        approvals_services.transition(automation=automation, to="live", by=admin, reason="Launch")
        clock.shift(timedelta(days=13))
        assert run()["reminded"] == 0
        clock.shift(timedelta(days=1))
        assert run()["reminded"] == 1
    assert "Strategic lead routing: Post-launch review due 2026-11-16: it went live on 2026-11-02" in (
        mail.outbox[0].body
    )


def test_the_automation_page_shows_when_it_was_reminded_and_escalated(clock, run, people, login, viewer):
    owner, _ = people
    automation = overdue(owner)
    client = login(viewer)
    assert "No reminder sent" in client.get(automation.get_absolute_url()).content.decode()
    run()
    clock.shift(GRACE)
    run()
    page = client.get(automation.get_absolute_url()).content.decode()
    assert "Review reminders" in page
    assert "Reminded Owen Owner on <strong>2026-11-02 07:00</strong>" in page
    assert "Escalated to Bea Boss on <strong>2026-11-09 07:00</strong>" in page


@pytest.mark.parametrize("reminded", [1, 5])
def test_the_panel_reads_its_reminders_in_one_query(clock, people, reminded, django_assert_num_queries):
    from health.views import review_reminders_panel_context

    owner, _ = people
    automation = overdue(owner)
    for days in range(reminded):
        ReviewReminder.objects.create(
            automation=automation, cycle_start=NOW - timedelta(days=100 * (days + 1)), owner=owner, reminded_at=NOW
        )
    with django_assert_num_queries(1):
        context = review_reminders_panel_context(None, automation)
        assert len(context["reminders"]) == reminded
        assert [item["open"] for item in context["reminders"]] == [False] * reminded
        for item in context["reminders"]:
            str(item["reminder"].owner)


def test_the_registry_page_query_count_does_not_grow_with_reminders(clock, run, people, login, viewer):
    from django.test.utils import CaptureQueriesContext

    owner, _ = people
    automation = overdue(owner)
    client = login(viewer)
    url = reverse("registry:automation-detail", args=[automation.key])
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    run()
    with CaptureQueriesContext(connection) as after:
        client.get(url)
    assert len(after.captured_queries) == len(before.captured_queries)


# --- Real concurrency (PostgreSQL) ------------------------------------------------------------
def _race(times: int) -> list:
    barrier = threading.Barrier(times)
    results: list = []

    def go():
        try:
            barrier.wait()
            results.append(reminders.review_reminders_send(now=NOW))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=go) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_two_workers_at_the_same_moment_remind_and_escalate_once(round_):
    if connection.vendor != "postgresql":
        pytest.skip("Concurrent claims need PostgreSQL: SQLite serialises every write, so there is no race.")
    boss = UserFactory(username=f"boss{round_}")
    owner = UserFactory(username=f"owen{round_}", manager=boss)
    automations = [overdue(owner, name=f"Automation {i}") for i in range(5)]

    results = _race(2)
    assert sorted(r["reminded"] for r in results) == [0, 5]
    assert ReviewReminder.objects.count() == 5
    bodies = [m.body for m in mail.outbox]
    for automation in automations:
        assert sum(f"{automation.name}:" in body for body in bodies) == 1
    assert len(mail.outbox) == 1

    ReviewReminder.objects.update(reminded_at=NOW - GRACE)
    results = _race(2)
    assert sorted(r["escalated"] for r in results) == [0, 5]
    assert ReviewReminder.objects.filter(escalated_to=boss).count() == 5
    assert [m.to for m in mail.outbox[1:]] == [[boss.email]]
