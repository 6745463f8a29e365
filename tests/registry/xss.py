"""Registry pages showing text people typed (see tests/xss.py)."""

from django.urls import reverse

from registry.models import Automation, ChangeEvent, DataField, Hold, Tag
from registry.services import automation_mark_reviewed, hold_place, hold_release
from tests.factories import UserFactory
from tests.registry.factories import AutomationFactory, ChangeEventFactory, DataFieldFactory
from tests.xss import PAYLOAD, XssCase, free_text


def _automation(admin) -> list[str]:
    owner = UserFactory(first_name=PAYLOAD, last_name=PAYLOAD)
    automation = AutomationFactory(
        key="xss-automation", rule_owner=owner, risk_tier_override="high", **free_text(Automation)
    )
    automation.tags.add(Tag.objects.create(name=PAYLOAD))
    return [
        reverse("registry:automation-list"),
        reverse("registry:automation-list") + "?q=alert",
        automation.get_absolute_url(),
        reverse("registry:automation-edit", args=[automation.key]),
        reverse("registry:automation-history", args=[automation.key]),
    ]


def _data_field(admin) -> list[str]:
    field = DataFieldFactory(**free_text(DataField, exclude=("source_of_truth",)))
    automation = AutomationFactory(key="xss-uses-field", data_fields=[field])
    return [
        reverse("registry:datafield-list"),
        reverse("registry:datafield-detail", args=[field.pk]),
        reverse("registry:datafield-edit", args=[field.pk]),
        automation.get_absolute_url(),
    ]


def _change_event(admin) -> list[str]:
    automation = AutomationFactory(key="xss-changed")
    event = ChangeEventFactory(automations=[automation], **free_text(ChangeEvent))
    return [
        reverse("registry:changeevent-list"),
        reverse("registry:changeevent-detail", args=[event.pk]),
        automation.get_absolute_url(),
    ]


def _holds(admin) -> list[str]:
    automation = AutomationFactory(key="xss-held")
    released = hold_place(automation=automation, source=PAYLOAD, reason=PAYLOAD, by=admin)
    hold_release(hold=released, by=admin, note=PAYLOAD)
    hold_place(automation=automation, source="manual", reason=PAYLOAD, by=admin)
    assert set(free_text(Hold)) <= {"source", "reason", "release_note"}
    return [automation.get_absolute_url()]


def _reviews(admin) -> list[str]:
    automation = AutomationFactory(key="xss-reviewed")
    automation_mark_reviewed(automation=automation, by=admin, notes=PAYLOAD)
    return [automation.get_absolute_url()]


XSS_CASES = [
    XssCase("automation (every text field, tags, owner's name)", _automation),
    XssCase("data field", _data_field),
    XssCase("change event", _change_event),
    XssCase("hold (source, reason, release note)", _holds),
    XssCase("review notes", _reviews),
]
