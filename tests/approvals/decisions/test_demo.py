import pytest
from django.core.management import call_command

from approvals.decisions.models import Decision, DecisionRequest


@pytest.mark.django_db
def test_the_demo_queue_loads_once_with_every_state_a_manager_sees():
    call_command("load_demo", stdout=None)
    counts = (DecisionRequest.objects.count(), Decision.objects.count())
    call_command("load_demo", stdout=None)
    assert (DecisionRequest.objects.count(), Decision.objects.count()) == counts
    assert DecisionRequest.objects.filter(status="open").count() >= 3
    assert Decision.objects.filter(overrides=True).exclude(reason="").exists()
    assert len(set(DecisionRequest.objects.values_list("kind", flat=True))) == 5
