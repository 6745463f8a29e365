"""Health text people typed, shown on the automation page (see tests/xss.py): review reminder
reasons quote change-event titles."""

from datetime import timedelta

from django.utils import timezone

from health.reminders import review_reminders_send
from tests.registry.factories import AutomationFactory, ChangeEventFactory
from tests.xss import PAYLOAD, XssCase


def _review_reminder(admin) -> list[str]:
    automation = AutomationFactory(key="xss-reminded", last_reviewed_at=timezone.now() - timedelta(days=1))
    ChangeEventFactory(title=PAYLOAD, recorded_by=admin, automations=[automation])
    assert review_reminders_send()["reminded"] == 1
    return [automation.get_absolute_url()]


XSS_CASES = [XssCase("review reminder reasons", _review_reminder)]
