"""Issue 15 §6: test cases are edited and re-run; each run records who, when, the result and the
registry version it ran against, and only runs against the current version pass the test plan."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from approvals import gates, services
from approvals.choices import TestKind
from approvals.models import TestCase, TestRun
from registry import services as registry_services
from registry.models import Automation as RegistryAutomation
from revops_gov.errors import Conflict, Forbidden
from revops_gov.roles import Role
from tests.approvals.factories import TestCaseFactory
from tests.factories import UserFactory
from tests.registry.factories import AutomationFactory

pytestmark = pytest.mark.django_db


def _plan(automation):
    automation.refresh_from_db()
    return {c.label: c for c in gates.test_plan(automation)}


def _all_kinds_passed(automation, by):
    for kind in TestKind:
        TestCaseFactory(automation=automation, kind=kind, recorded_by=by, passed=True)


def test_a_failed_case_can_be_edited_and_re_run_and_the_plan_then_passes(admin):
    automation = AutomationFactory(status="approved")
    _all_kinds_passed(automation, admin)
    case = automation.test_cases.get(kind=TestKind.EDGE)
    services.test_case_run(case=case, by=admin, passed=False, actual="Went to the default owner")
    edge = _plan(automation)[TestKind.EDGE.label]
    assert not edge.met and edge.detail == "1 of 1 failed at version 1"

    services.test_case_save(
        automation=automation,
        by=admin,
        case=case,
        kind=TestKind.EDGE,
        description="Lead with no country and a personal email",
        expected="RevOps exception queue",
    )
    assert _plan(automation)[TestKind.EDGE.label].met is False  # an edit alone proves nothing
    services.test_case_run(case=case, by=admin, passed=True, actual="RevOps exception queue")
    assert all(c.met for c in _plan(automation).values())


def test_editing_a_case_keeps_its_runs(admin):
    case = TestCaseFactory(automation=AutomationFactory(status="in_design"), recorded_by=admin, passed=False)
    services.test_case_save(
        automation=case.automation, by=admin, case=case, kind=TestKind.COMMON, description="New", expected="E"
    )
    case.refresh_from_db()
    assert case.description == "New"
    assert [r.passed for r in case.runs.all()] == [False]


def test_each_run_records_who_when_result_and_version(admin):
    automation = AutomationFactory(status="approved")
    case = services.test_case_save(automation=automation, by=admin, kind="common", description="d", expected="e")
    tester = UserFactory(role=Role.ADMIN)
    before = timezone.now()
    run = services.test_case_run(case=case, by=tester, passed=True, actual="as expected")
    run.refresh_from_db()
    assert (run.case, run.run_by, run.passed, run.actual, run.automation_version) == (
        case,
        tester,
        True,
        "as expected",
        automation.version,
    )
    assert before <= run.run_at <= timezone.now()
    with pytest.raises(PermissionError):
        run.save()  # a run is history: never edited


def test_a_run_for_version_n_does_not_count_after_a_material_registry_edit_bumps_the_version(admin):
    automation = AutomationFactory(status="approved")
    _all_kinds_passed(automation, admin)
    assert all(c.met for c in _plan(automation).values())
    automation = registry_services.automation_update(
        automation=automation, by=admin, reason="Named accounts first", rule="Named account owner wins, then territory"
    )
    assert automation.version == 2
    plan = _plan(automation)
    assert not any(c.met for c in plan.values())
    assert plan[TestKind.COMMON.label].detail == "1 of 1 not run for version 2"
    assert TestRun.objects.filter(automation_version=1).count() == len(TestKind)  # the evidence is kept
    readiness = {c.label: c for c in gates.readiness(automation)}
    assert readiness["Test cases are complete"].detail == f"0 of {len(TestKind)} test kinds passed"

    for case in automation.test_cases.all():
        services.test_case_run(case=case, by=admin, passed=True, actual="still routed right")
    assert all(c.met for c in _plan(automation).values())


def test_a_run_needs_the_actual_result_and_a_pass_or_fail(admin):
    case = TestCaseFactory(automation=AutomationFactory(status="in_design"), recorded_by=admin)
    with pytest.raises(ValidationError) as error:
        services.test_case_run(case=case, by=admin, passed=None, actual="")
    assert set(error.value.message_dict) == {"passed", "actual"}
    assert not TestRun.objects.exists()


def test_only_those_who_govern_write_cases_and_record_runs(admin, manager, viewer):
    case = TestCaseFactory(recorded_by=admin)
    for person in (manager, viewer):
        with pytest.raises(Forbidden):
            services.test_case_run(case=case, by=person, passed=True, actual="ok")
        with pytest.raises(Forbidden):
            services.test_case_save(
                automation=case.automation, by=person, case=case, kind="edge", description="d", expected="e"
            )
    assert not TestRun.objects.exists()


# --- The readiness page -----------------------------------------------------------------------
def test_on_the_readiness_page_an_admin_edits_and_re_runs_a_failed_case(login, admin):
    automation = AutomationFactory(status="approved")
    case = TestCaseFactory(automation=automation, kind="edge", recorded_by=admin, passed=False)
    client = login(admin)
    url = reverse("approvals:readiness", args=[automation.key])
    page = client.get(url).content.decode()
    assert "failed at v1" in page and "Record a run" in page and "Edit the case" in page

    edited = client.post(
        reverse("approvals:testcase-edit", args=[automation.key, case.pk]),
        {f"case-{case.pk}-kind": "edge", f"case-{case.pk}-description": "No country", f"case-{case.pk}-expected": "Q"},
    )
    assert edited.status_code == 302 and edited["Location"].endswith(f"#case-{case.pk}")
    case.refresh_from_db()
    assert (case.description, case.expected, case.runs.count()) == ("No country", "Q", 1)

    ran = client.post(
        reverse("approvals:testcase-run", args=[automation.key, case.pk]),
        {f"run-{case.pk}-result": "passed", f"run-{case.pk}-actual": "Went to the RevOps queue"},
        follow=True,
    )
    page = ran.content.decode()
    assert "Run recorded: passed at version 1." in page
    assert "passed at v1" in page and "Went to the RevOps queue" in page and "Alice Admin" in page
    latest = case.runs.first()
    assert (latest.passed, latest.run_by, latest.automation_version) == (True, admin, 1)


def test_a_run_without_the_actual_result_comes_back_with_the_error_not_a_500(login, admin):
    automation = AutomationFactory(status="approved")
    case = TestCaseFactory(automation=automation, recorded_by=admin)
    client = login(admin)
    response = client.post(
        reverse("approvals:testcase-run", args=[automation.key, case.pk]), {f"run-{case.pk}-result": "passed"}
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was saved" in page and "Write the actual result" in page and "is-invalid" in page
    bad_edit = client.post(
        reverse("approvals:testcase-edit", args=[automation.key, case.pk]), {f"case-{case.pk}-kind": "nope"}
    )
    assert bad_edit.status_code == 400 and "Select a valid choice" in bad_edit.content.decode()
    assert not TestRun.objects.exists()


def test_a_case_of_another_automation_is_404_on_the_forms(login, admin):
    automation, other = AutomationFactory(), AutomationFactory()
    case = TestCaseFactory(automation=other, recorded_by=admin)
    client = login(admin)
    run_url = reverse("approvals:testcase-run", args=[automation.key, case.pk])
    assert client.post(run_url, {f"run-{case.pk}-result": "passed", f"run-{case.pk}-actual": "x"}).status_code == 404


def test_a_viewer_sees_the_runs_read_only_and_gets_403_on_the_forms(login, admin, viewer):
    automation = AutomationFactory(status="approved")
    case = TestCaseFactory(automation=automation, recorded_by=admin, passed=True)
    client = login(viewer)
    page = client.get(reverse("approvals:readiness", args=[automation.key])).content.decode()
    assert "passed at v1" in page and "Alice Admin" in page
    assert "Record a run" not in page and "Edit the case" not in page
    posts = {
        "approvals:testcase-run": ([automation.key, case.pk], {f"run-{case.pk}-result": "failed"}),
        "approvals:testcase-edit": ([automation.key, case.pk], {f"case-{case.pk}-kind": "edge"}),
        "approvals:testcase-save": ([automation.key], {"kind": "edge", "description": "d", "expected": "e"}),
    }
    for name, (args, data) in posts.items():
        assert client.post(reverse(name, args=args), data).status_code == 403, name
    assert TestRun.objects.count() == 1 and TestCase.objects.count() == 1


def test_the_readiness_page_reads_cases_and_runs_in_constant_queries(login, admin):
    automation = AutomationFactory(status="approved")
    client = login(admin)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("approvals:readiness", args=[automation.key])).status_code == 200
        return len(ctx.captured_queries)

    TestCaseFactory(automation=automation, recorded_by=admin, passed=True)
    few = count()
    for kind in TestKind:
        case = TestCaseFactory(automation=automation, kind=kind, recorded_by=admin, passed=False)
        services.test_case_run(case=case, by=UserFactory(role=Role.ADMIN), passed=True, actual="ok")
    assert count() == few


# --- Existing results keep their meaning ------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_existing_results_into_runs_at_the_then_current_version():
    executor = MigrationExecutor(connection)
    before, after = [("approvals", "0004_chat_action")], [("approvals", "0006_testcase_results_are_runs")]
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    OldCase = apps.get_model("approvals", "TestCase")
    who = UserFactory(username="tess")  # users and automations: tables the rollback leaves alone
    automation = AutomationFactory(key="routing", version=3)
    OldCase.objects.create(
        automation_id=automation.pk,
        kind="common",
        description="a",
        expected="e",
        actual="ok",
        passed=True,
        recorded_by_id=who.pk,
    )
    OldCase.objects.create(
        automation_id=automation.pk,
        kind="edge",
        description="b",
        expected="e",
        actual="no",
        passed=False,
        recorded_by_id=who.pk,
    )
    OldCase.objects.create(
        automation_id=automation.pk, kind="rollback", description="c", expected="e", recorded_by_id=who.pk
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    runs = {
        r.case.description: (r.passed, r.actual, r.automation_version, r.run_by.username) for r in TestRun.objects.all()
    }
    assert runs == {"a": (True, "ok", 3, "tess"), "b": (False, "no", 3, "tess")}
    plan = {c.label: c for c in gates.test_plan(RegistryAutomation.objects.get(key="routing"))}
    assert plan[TestKind.COMMON.label].met and not plan[TestKind.EDGE.label].met
    assert plan[TestKind.ROLLBACK.label].detail == "1 of 1 not run for version 3"


@pytest.mark.parametrize("status", ["shadow", "live"])
def test_the_test_plan_of_a_launched_version_is_not_rewritten(admin, status):
    """Shadow and live stand on their version's test plan: no case written, edited or re-run then."""
    automation = AutomationFactory(status=status)
    case = TestCaseFactory(automation=automation, recorded_by=admin, passed=True)
    with pytest.raises(Conflict, match="evidence it was launched on"):
        services.test_case_run(case=case, by=admin, passed=False, actual="It broke")
    with pytest.raises(Conflict, match="evidence it was launched on"):
        services.test_case_save(automation=automation, by=admin, kind="edge", description="d", expected="e")
    assert case.runs.count() == 1
