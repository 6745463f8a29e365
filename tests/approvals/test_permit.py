import pytest

from approvals.permit import permit_for
from registry import services
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("status", "mode"),
    [
        ("live", "live"),
        ("shadow", "shadow"),
        ("proposed", "blocked"),
        ("in_design", "blocked"),
        ("approved", "blocked"),
        ("paused", "blocked"),
        ("retired", "blocked"),
    ],
)
def test_the_status_decides_the_mode(status, mode):
    assert permit_for(AutomationFactory(status=status)).mode == mode


def test_an_open_hold_blocks_with_its_reason_and_every_reason_is_listed(admin):
    automation = AutomationFactory(status="paused")
    services.hold_place(
        automation=automation, source="health.finding:7", reason="Failing since Lead.Segment changed", by=admin
    )
    permit = permit_for(automation)
    assert permit.mode == "blocked"
    assert len(permit.reasons) == 2
    assert "Failing since Lead.Segment changed" in permit.reasons[1]


def test_high_tier_requires_a_human_decision():
    assert permit_for(AutomationFactory(merges_records=True)).requires_human_decision
    assert not permit_for(AutomationFactory()).requires_human_decision
