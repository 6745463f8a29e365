"""Decide-once under real concurrency: two people deciding the same request at the same moment
against PostgreSQL; exactly one wins, the other gets a Conflict naming the winner."""

import threading

import pytest
from django.db import connection, connections

from approvals.decisions import services
from approvals.decisions.models import Decision
from revops_gov.errors import Conflict
from tests.approvals.decisions.factories import DecisionRequestFactory
from tests.factories import UserFactory


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(5))
def test_two_simultaneous_decisions_one_wins_one_conflicts(admin, round_):
    if connection.vendor != "postgresql":
        pytest.skip("Row locks need PostgreSQL: SQLite serialises every write, so there is no race to test.")
    boss = UserFactory(role="manager")
    request = DecisionRequestFactory(assignee=UserFactory(manager=boss, role="manager"))
    deciders = [(boss, "accept_owner"), (admin, "accept_owner")]
    barrier = threading.Barrier(len(deciders))
    results: list = []

    def decide(person, option):
        try:
            barrier.wait()
            results.append(services.decide(request=request, by=person, option=option))
        except Conflict as exc:
            results.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=decide, args=decider) for decider in deciders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    decisions = [r for r in results if isinstance(r, Decision)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert (len(decisions), len(conflicts)) == (1, 1), results
    assert Decision.objects.filter(request=request).count() == 1
    assert str(decisions[0].decided_by) in conflicts[0].message
