import pytest
from django.core.management import call_command

from approvals.gates import approved_packet, shadow_agreement
from approvals.models import ApprovalPacket
from approvals.permit import permit_for
from registry.models import Automation

pytestmark = pytest.mark.django_db


def test_demo_gives_running_automations_their_approved_packets_and_is_idempotent():
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    count = ApprovalPacket.objects.count()
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert ApprovalPacket.objects.count() == count
    for automation in Automation.objects.filter(status__in=["live", "shadow"]):
        assert approved_packet(automation) is not None, automation.key
        assert permit_for(automation).mode in ("live", "shadow", "blocked")
    shadow = Automation.objects.filter(status="shadow").first()
    assert shadow_agreement(shadow).meets_bar
    assert ApprovalPacket.objects.filter(state="submitted").exists()
