"""The approvals pages: the lifecycle panel on the automation page, packets and their review, the
readiness checklist with the launch and test plans, and the "waiting for me" queue."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from discovery import selectors as discovery_selectors
from registry.models import Automation
from registry.selectors import automation_get
from revops_gov.concurrency import StaleWrite, stale_context
from revops_gov.errors import ApplicationError
from revops_gov.roles import RoleRequiredMixin, can_decide, can_govern

from . import gates, rules, selectors, services
from .choices import PacketState
from .forms import (
    AdoptForm,
    PacketForm,
    RetireInCrmForm,
    ReviewForm,
    TestCaseForm,
    TestRunForm,
    TickForm,
    TransitionForm,
)
from .models import ApprovalPacket, TestCase


def _automation_or_404(key: str) -> Automation:
    try:
        return automation_get(key=key)
    except Automation.DoesNotExist as exc:
        raise Http404(f"No automation with key {key}") from exc


def _packet_or_404(automation, number) -> ApprovalPacket:
    try:
        return selectors.packet_get(automation=automation, number=number)
    except ApprovalPacket.DoesNotExist as exc:
        raise Http404(f"No packet v{number}") from exc


def _error_text(exc) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(m for ms in getattr(exc, "message_dict", {"": exc.messages}).values() for m in ms)
    return exc.message


def lifecycle_panel(request, automation) -> dict:
    """The automation page's lifecycle panel: status, next moves with their gates, the history."""
    packets = list(automation.packets.order_by("-number")[:1])
    approved = gates.approved_packet(automation)
    # Approved for this version under an older, lower tier: say what the current tier's rule misses.
    unmet = None if approved else gates.latest_approved_packet(automation)
    return {
        "automation": automation,
        "moves": gates.next_moves(automation, by=request.user),
        "may_move": can_govern(request.user) or automation.failure_owner_id == request.user.pk,
        "history": list(automation.lifecycle_moves.select_related("by")[:20]),
        "agreement": gates.shadow_agreement(automation),
        "packet": packets[0] if packets else None,
        "approved": approved,
        "unmet_rule": rules.rule_status(unmet) if unmet else None,
        "unmet_packet": unmet,
        "can_govern": can_govern(request.user),
    }


class TransitionView(RoleRequiredMixin, View):
    """Anyone who reads may ask; the gate decides (admins, and the failure owner to pause)."""

    required = "read"

    def post(self, request, key):
        automation = _automation_or_404(key)
        form = TransitionForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose the move.")
            return redirect(automation)
        try:
            automation = services.transition(
                automation=automation, to=form.cleaned_data["to"], by=request.user, reason=form.cleaned_data["reason"]
            )
        except (ApplicationError, ValidationError) as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, f"{automation.name} is now {automation.get_status_display().lower()}.")
        return redirect(automation)


class AdoptView(RoleRequiredMixin, View):
    """Adopt an automation found running in the CRM: document it, then it moves to in design
    (admins). Its page offers this, and "retired in the CRM", while it is discovered."""

    required = "govern"

    def get(self, request, key):
        automation = _automation_or_404(key)
        initial = {
            "business_purpose": "",
            "trigger": automation.trigger,
            "rule": "",
            "record_changed": automation.record_changed,
            "team": automation.team,
            "workflow_type": automation.workflow_type,
            "rule_owner": getattr(automation.rule_owner, "username", None),
            "failure_owner": getattr(automation.failure_owner, "username", None),
        }
        return self.render(request, automation, AdoptForm(initial=initial))

    def post(self, request, key):
        automation = _automation_or_404(key)
        form = AdoptForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            reason = data.pop("reason")
            try:
                automation = services.discovered_adopt(automation=automation, by=request.user, reason=reason, **data)
            except ValidationError as exc:
                for name, errors in exc.message_dict.items():
                    form.add_error(name if name in form.fields else None, errors)
            except ApplicationError as exc:
                form.add_error(None, _error_text(exc))
            else:
                messages.success(
                    request, f"{automation.name} is adopted: now {automation.get_status_display().lower()}."
                )
                return redirect(automation)
        return self.render(request, automation, form, status=400)

    def render(self, request, automation, form, status=200):
        return render(
            request,
            "approvals/adopt.html",
            {"automation": automation, "form": form, "retire_form": RetireInCrmForm()},
            status=status,
        )


class RetireInCrmView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, key):
        automation = _automation_or_404(key)
        form = RetireInCrmForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Say how it was retired in the CRM.")
            return redirect(automation)
        try:
            automation = services.discovered_retire(
                automation=automation, by=request.user, reason=form.cleaned_data["reason"]
            )
        except (ApplicationError, ValidationError) as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, f"{automation.name} is recorded retired in the CRM.")
        return redirect(automation)


class PacketEditView(RoleRequiredMixin, View):
    """Edit the open draft; after submission an edit starts a new version (pending approvals void)."""

    required = "govern"

    def _packet(self, automation):
        return automation.packets.order_by("-number").first()

    def get(self, request, key):
        automation = _automation_or_404(key)
        packet = self._packet(automation)
        revision = services.packet_revision(packet)
        if packet is None:
            packet = ApprovalPacket(automation=automation, number=1, **services._prefill(automation))
        if packet.pk and packet.state != PacketState.DRAFT:
            # Saving starts a new version: show what it starts from (the registry's sections now).
            form = PacketForm(initial=services.draft_sections(automation, packet), revision=revision)
        else:
            form = PacketForm(instance=packet, revision=revision)
        return render(request, "approvals/packet_form.html", {"automation": automation, "packet": packet, "form": form})

    def post(self, request, key):
        automation = _automation_or_404(key)
        packet = self._packet(automation)
        form = PacketForm(request.POST)
        if form.is_valid():
            sections = {k: v for k, v in form.cleaned_data.items() if k != "revision"}
            try:
                packet = services.packet_edit(
                    automation=automation, by=request.user, expected_revision=form.submitted_revision(), **sections
                )
            except StaleWrite as exc:
                context = {"automation": automation, "packet": exc.obj, "form": form, **stale_context(exc, form)}
                return render(request, "approvals/packet_form.html", context, status=409)
            except ValidationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, f"Packet v{packet.number} saved as a draft.")
                return redirect(packet)
        return render(
            request,
            "approvals/packet_form.html",
            {"automation": automation, "packet": packet, "form": form},
            status=400,
        )


class PacketDetailView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request, key, number):
        automation = _automation_or_404(key)
        packet = _packet_or_404(automation, number)
        refusals = services.review_refusals(packet=packet, by=request.user) if can_decide(request.user) else []
        context = {
            "automation": automation,
            "packet": packet,
            "diff": selectors.packet_diff(packet),
            "version_diff": selectors.packet_version_diff(packet),
            # What the change touches in the CRM (discovery's selectors; discovery never imports approvals).
            "blast_radius": discovery_selectors.blast_radius_for(automation),
            "reviews": list(packet.reviews.all()),
            "rule": rules.rule_status(packet),
            "refusals": refusals,
            "review_form": ReviewForm() if not refusals and can_decide(request.user) else None,
            "can_govern": can_govern(request.user),
            "tab": "approvals",
        }
        return render(request, "approvals/packet_detail.html", context)


class PacketSubmitView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, key, number):
        automation = _automation_or_404(key)
        packet = _packet_or_404(automation, number)
        try:
            services.packet_submit(packet=packet, by=request.user)
        except (ApplicationError, ValidationError) as exc:
            messages.error(request, f"Not submitted: {_error_text(exc)}")
        else:
            messages.success(request, f"Packet v{packet.number} is submitted; approvers see it in their queue.")
        return redirect(packet)


class PacketReviewView(RoleRequiredMixin, View):
    required = "decide"

    def post(self, request, key, number):
        automation = _automation_or_404(key)
        packet = _packet_or_404(automation, number)
        form = ReviewForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Choose approve, request changes or reject.")
            return redirect(packet)
        try:
            services.packet_review(packet=packet, by=request.user, **form.cleaned_data)
        except (ApplicationError, ValidationError) as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, "Your review is recorded.")
        return redirect(packet)


def _readiness_page(request, key, *, bound: dict | None = None, status: int = 200):
    """The readiness page: checklist, launch plan, test plan with each case's runs and, for those
    who govern, a form per case to edit it and one to record a run. `bound` puts a submitted form
    with its errors back in its place ({"add": form} or {(case_pk, "edit"|"run"): form})."""
    automation = _automation_or_404(key)
    automation = (
        Automation.objects.prefetch_related(
            "data_fields",
            "readiness_ticks__ticked_by",
            Prefetch("test_cases", queryset=TestCase.objects.with_runs()),
            "lifecycle_moves",
        )
        .select_related("rule_owner")
        .get(pk=automation.pk)
    )
    bound = bound or {}
    governs = can_govern(request.user)
    cases = []
    for case in automation.test_cases.all():
        row = {"case": case, "current": case.latest_run(automation.version), "runs": case.runs_newest_first()}
        if governs:
            row["edit_form"] = bound.get((case.pk, "edit")) or TestCaseForm(
                prefix=f"case-{case.pk}",
                initial={"kind": case.kind, "description": case.description, "expected": case.expected},
            )
            row["run_form"] = bound.get((case.pk, "run")) or TestRunForm(prefix=f"run-{case.pk}")
            row["open"] = (case.pk, "edit") in bound or (case.pk, "run") in bound
        cases.append(row)
    context = {
        "automation": automation,
        "readiness": gates.readiness(automation),
        "launch_plan": gates.launch_plan(automation),
        "test_plan": gates.test_plan(automation),
        "cases": cases,
        "tickable": services.readiness_items_tickable(),
        "ticks": {t.item: t for t in automation.readiness_ticks.all()},
        "case_form": bound.get("add") or TestCaseForm(),
        "can_govern": governs,
        "tab": "readiness",
    }
    return render(request, "approvals/readiness.html", context, status=status)


class ReadinessView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request, key):
        return _readiness_page(request, key)


class TickView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, key):
        automation = _automation_or_404(key)
        form = TickForm(request.POST)
        if form.is_valid():
            try:
                services.readiness_tick(automation=automation, by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                messages.error(request, _error_text(exc))
            else:
                messages.success(request, "Ticked.")
        else:
            messages.error(request, "Say what proves it.")
        return redirect("approvals:readiness", key=key)


class TestCaseView(RoleRequiredMixin, View):
    """Write a case (no `case` in the URL) or edit one; a form with errors comes back in place (400)."""

    __test__ = False
    required = "govern"

    def post(self, request, key, case=None):
        automation = _automation_or_404(key)
        instance = get_object_or_404(TestCase, pk=case, automation=automation) if case else None
        form = TestCaseForm(request.POST, prefix=f"case-{case}" if case else None)
        slot = (case, "edit") if case else "add"
        if form.is_valid():
            try:
                services.test_case_save(automation=automation, by=request.user, case=instance, **form.cleaned_data)
            except ValidationError as exc:
                form.add_service_error(exc)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "Test case edited: its runs are kept." if case else "Test case saved.")
                return redirect(_case_anchor(key, case))
        return _readiness_page(request, key, bound={slot: form}, status=400)


class TestRunView(RoleRequiredMixin, View):
    """Record a run of a case against the current registry version (passed or failed, what happened)."""

    __test__ = False
    required = "govern"

    def post(self, request, key, case):
        automation = _automation_or_404(key)
        instance = get_object_or_404(TestCase, pk=case, automation=automation)
        form = TestRunForm(request.POST, prefix=f"run-{case}")
        if form.is_valid():
            try:
                run = services.test_case_run(
                    case=instance,
                    by=request.user,
                    passed=form.cleaned_data["result"] == "passed",
                    actual=form.cleaned_data["actual"],
                )
            except ValidationError as exc:
                form.add_service_error(exc)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                result = "passed" if run.passed else "failed"
                messages.success(request, f"Run recorded: {result} at version {run.automation_version}.")
                return redirect(_case_anchor(key, case))
        return _readiness_page(request, key, bound={(case, "run"): form}, status=400)


def _case_anchor(key: str, case: int | None) -> str:
    url = reverse("approvals:readiness", args=[key])
    return f"{url}#case-{case}" if case else url


class WaitingView(RoleRequiredMixin, View):
    required = "decide"

    def get(self, request):
        packets = list(selectors.waiting_for(request.user))
        return render(request, "approvals/waiting.html", {"packets": packets})
