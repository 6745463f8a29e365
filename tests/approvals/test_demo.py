import pytest

import approvals.demo
import registry.demo
import revops_gov.demo
from approvals.gates import approved_packet, shadow_agreement
from approvals.models import ApprovalPacket
from approvals.permit import permit_for
from registry.models import Automation

pytestmark = pytest.mark.django_db


def test_demo_gives_running_automations_their_approved_packets_and_is_idempotent():
    # The layers below first, as load_demo does (INSTALLED_APPS order).
    revops_gov.demo.load()
    registry.demo.load()
    approvals.demo.load()
    count = ApprovalPacket.objects.count()
    assert approvals.demo.load() == 0
    assert ApprovalPacket.objects.count() == count
    for automation in Automation.objects.filter(status__in=["live", "shadow"]):
        assert approved_packet(automation) is not None, automation.key
        assert permit_for(automation).mode in ("live", "shadow", "blocked")
    shadow = Automation.objects.filter(status="shadow").first()
    assert shadow_agreement(shadow).meets_bar
    assert ApprovalPacket.objects.filter(state="submitted").exists()
