"""The demo backlog: one candidate in each group, loaded once however often load_demo runs."""

import pytest
from django.core.management import call_command

from backlog.models import Candidate

pytestmark = pytest.mark.django_db


def test_the_demo_fills_every_column_and_loads_once():
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    count = Candidate.objects.count()
    groups = {c.derivation.group.value for c in Candidate.objects.prefetch_related("data_fields")}
    assert groups == {"ready", "needs_design", "keep_human"}
    strategic = Candidate.objects.get(title="Auto-route inbound leads from strategic accounts")
    assert strategic.derivation.missing == ["field Account.Tier__c unstable", "exception owner unknown"]
    assert Candidate.objects.exclude(score=None).count() >= 5
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Candidate.objects.count() == count
