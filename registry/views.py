from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from revops_gov.concurrency import StaleWrite, stale_context
from revops_gov.history import history_versions
from revops_gov.roles import RoleRequiredMixin, can_govern

from . import csv_io, selectors, services
from .choices import OwnerRole
from .extensions import render_datafield_panels, render_panels
from .filters import AutomationFilter, ChangeEventFilter, DataFieldFilter
from .forms import (
    AutomationForm,
    AutomationReviewForm,
    BulkOwnerForm,
    ChangeEventForm,
    DataFieldForm,
    HoldForm,
    HoldReleaseForm,
    ImportForm,
)
from .models import Automation, DataField, Hold

PAGE_SIZE = 50


def _page(request, queryset, size=PAGE_SIZE):
    return Paginator(queryset, size).get_page(request.GET.get("page"))


def _query_without(request, *names) -> str:
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


def _automation_or_404(key: str) -> Automation:
    try:
        return selectors.automation_get(key=key)
    except Automation.DoesNotExist as exc:
        raise Http404(f"No automation with key {key}") from exc


# --- Automations ------------------------------------------------------------------------------
class AutomationListView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request):
        filterset = AutomationFilter(request.GET, queryset=selectors.automation_queryset())
        queryset = filterset.qs if filterset.is_valid() else selectors.automation_queryset().none()
        if not request.GET.get("ordering"):
            queryset = queryset.order_by("name")
        page = _page(request, queryset)
        context = {
            "filter": filterset,
            "page": page,
            "attention": selectors.registry_attention_counts(),
            "query": _query_without(request, "page"),
            "sort_query": _query_without(request, "page", "ordering"),
            "ordering": request.GET.get("ordering", ""),
            "bulk_form": BulkOwnerForm() if can_govern(request.user) else None,
            "owner_roles": OwnerRole.choices,
        }
        template = (
            "registry/partials/automation_table.html"
            if request.htmx and request.htmx.target == "results"
            else "registry/automation_list.html"
        )
        return render(request, template, context)


class AutomationExportView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request):
        filterset = AutomationFilter(request.GET, queryset=selectors.automation_queryset())
        queryset = filterset.qs if filterset.is_valid() else Automation.objects.none()
        response = StreamingHttpResponse(
            csv_io.export_lines(queryset.order_by("key")), content_type="text/csv; charset=utf-8"
        )
        stamp = timezone.now().strftime("%Y-%m-%d")
        response["Content-Disposition"] = f'attachment; filename="automation-registry-{stamp}.csv"'
        return response


class AutomationCreateView(RoleRequiredMixin, View):
    required = "govern"

    def get(self, request):
        return render(request, "registry/automation_form.html", {"form": AutomationForm(), "creating": True})

    def post(self, request):
        form = AutomationForm(request.POST)
        if form.is_valid():
            try:
                automation = services.automation_create(
                    by=request.user,
                    reason=form.cleaned_data.get("change_reason") or "Registered",
                    key=form.cleaned_data["key"],
                    **form.service_kwargs(),
                )
            except ValidationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(
                    request, f"{automation.name} is registered as {automation.get_status_display().lower()}."
                )
                return redirect(automation)
        return render(request, "registry/automation_form.html", {"form": form, "creating": True}, status=400)


class AutomationDetailView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request, key):
        automation = _automation_or_404(key)
        facts = selectors.card_facts(automation)
        context = {
            "automation": automation,
            "tier": automation.tier,
            "review": facts.review,
            "reviews": selectors.automation_reviews(automation=automation),
            "holds": facts.open_holds,
            "untrusted_fields": facts.untrusted_fields,
            "panels": render_panels(request, automation),
            "review_form": AutomationReviewForm(),
            "hold_form": HoldForm(),
            "tab": "card",
        }
        return render(request, "registry/automation_detail.html", context)


class AutomationHistoryView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request, key):
        automation = _automation_or_404(key)
        return render(
            request,
            "registry/automation_history.html",
            {"automation": automation, "versions": history_versions(automation), "tab": "history"},
        )


class AutomationEditView(RoleRequiredMixin, View):
    required = "govern"

    def get(self, request, key):
        automation = _automation_or_404(key)
        form = AutomationForm(instance=automation, editing=True)
        return render(request, "registry/automation_form.html", {"form": form, "automation": automation})

    def post(self, request, key):
        automation = _automation_or_404(key)
        form = AutomationForm(request.POST, instance=Automation.objects.get(pk=automation.pk), editing=True)
        if form.is_valid():
            version = automation.version
            try:
                updated = services.automation_update(
                    automation=automation,
                    by=request.user,
                    reason=form.cleaned_data["change_reason"],
                    expected_revision=form.submitted_revision(),
                    **form.service_kwargs(),
                )
            except StaleWrite as exc:
                context = {"form": form, "automation": automation, **stale_context(exc, form)}
                return render(request, "registry/automation_form.html", context, status=409)
            except ValidationError as exc:
                form.add_service_error(exc)
            else:
                if updated.updated_at == automation.updated_at:
                    messages.info(request, "Nothing changed, so nothing was saved.")
                elif updated.version != version:
                    messages.warning(
                        request,
                        f"Saved as version {updated.version}: the change is material, "
                        "so any approval must be given again"
                        + (
                            f"; status is now {updated.get_status_display().lower()}."
                            if updated.status != automation.status
                            else "."
                        ),
                    )
                else:
                    messages.success(request, "Saved.")
                return redirect(updated)
        return render(request, "registry/automation_form.html", {"form": form, "automation": automation}, status=400)


class AutomationReviewView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, key):
        automation = _automation_or_404(key)
        form = AutomationReviewForm(request.POST)
        if form.is_valid():
            services.automation_mark_reviewed(automation=automation, by=request.user, notes=form.cleaned_data["notes"])
            messages.success(request, "Review recorded; the next one is due one cadence from today.")
        else:
            messages.error(request, "Write what the review found before marking it reviewed.")
        return redirect(automation)


class HoldPlaceView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, key):
        automation = _automation_or_404(key)
        form = HoldForm(request.POST)
        if form.is_valid():
            services.hold_place(
                automation=automation, source="manual", reason=form.cleaned_data["reason"], by=request.user
            )
            messages.warning(
                request, f"{automation.name} is on hold: the permit check answers blocked until it is released."
            )
        else:
            messages.error(request, "Say why the automation is held.")
        return redirect(automation)


class HoldReleaseView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, key, pk):
        automation = _automation_or_404(key)
        hold = get_object_or_404(Hold, pk=pk, automation=automation)
        form = HoldReleaseForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Say why the hold can be released.")
            return redirect(automation)
        try:
            services.hold_release(hold=hold, by=request.user, note=form.cleaned_data["note"])
        except services.ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Hold released.")
        return redirect(automation)


class BulkOwnerView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request):
        form = BulkOwnerForm(request.POST)
        back = request.POST.get("next") or reverse("registry:automation-list")
        if not back.startswith("/"):
            back = reverse("registry:automation-list")
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                messages.error(request, f"{label or 'Owners'}: {' '.join(errors)}")
            return redirect(back)
        role = OwnerRole(form.cleaned_data["role"])
        count = services.automations_assign_owner(
            automations=form.cleaned_data["automations"],
            role=role,
            owner=form.cleaned_data["owner"],
            by=request.user,
            reason=form.cleaned_data["change_reason"],
        )
        messages.success(
            request, f"{form.cleaned_data['owner']} is now {role.label.lower()} of {count} more automation(s)."
        )
        return redirect(back)


class ImportView(RoleRequiredMixin, View):
    """Check first, then confirm. The check runs the whole import and rolls it back, and says
    what importing would do; the confirmation carries the checked file back signed (no server
    state, so any web process can take it) and imports it whole or not at all."""

    required = "govern"
    template = "registry/import.html"
    CHECK_MAX_AGE = 3600

    def _salt(self) -> str:
        return f"registry.csv-import:{self.request.user.pk}"

    def _render(self, form, *, result=None, checked=None, filename="", refusal="", status=200):
        context = {
            "form": form,
            "result": result,
            "checked": checked,
            "filename": filename,
            "refusal": refusal,
            "columns": csv_io.COLUMNS,
        }
        return render(self.request, self.template, context, status=status)

    def get(self, request):
        return self._render(ImportForm())

    def post(self, request):
        if "checked" in request.POST:
            return self._confirm(request)
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self._render(form, status=400)
        upload = form.cleaned_data["file"]
        content = upload.read()
        try:
            result = csv_io.import_automations(content=content, by=request.user, filename=upload.name, dry_run=True)
        except csv_io.CsvFileError as exc:
            form.add_error("file", exc.messages[0])
            return self._render(form, status=400)
        if result.errors:
            return self._render(form, result=result, filename=upload.name, status=400)
        checked = signing.dumps(
            {"name": upload.name, "text": content.decode("utf-8")}, salt=self._salt(), compress=True
        )
        return self._render(ImportForm(), result=result, checked=checked, filename=upload.name)

    def _confirm(self, request):
        form = ImportForm()
        try:
            payload = signing.loads(request.POST["checked"], salt=self._salt(), max_age=self.CHECK_MAX_AGE)
        except signing.SignatureExpired:
            return self._render(form, refusal="That check is more than an hour old; check the file again.", status=400)
        except signing.BadSignature:
            refusal = "That confirmation is not one this page made for you; check the file again."
            return self._render(form, refusal=refusal, status=400)
        filename = payload["name"]
        try:
            content = payload["text"].encode("utf-8")
            result = csv_io.import_automations(content=content, by=request.user, filename=filename)
        except csv_io.CsvFileError as exc:
            return self._render(form, refusal=exc.messages[0], status=400)
        # The registry may have changed since the check: then nothing is written and the rows say why.
        return self._render(form, result=result, filename=filename, status=400 if result.errors else 200)


# --- Data dictionary --------------------------------------------------------------------------
class DataFieldListView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request):
        filterset = DataFieldFilter(request.GET, queryset=selectors.datafield_queryset())
        queryset = filterset.qs if filterset.is_valid() else DataField.objects.none()
        return render(
            request,
            "registry/datafield_list.html",
            {"filter": filterset, "page": _page(request, queryset), "query": _query_without(request, "page")},
        )


class DataFieldDetailView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request, pk):
        data_field = get_object_or_404(selectors.datafield_queryset(), pk=pk)
        automations = selectors.automation_queryset().filter(data_fields=data_field).order_by("name")
        return render(
            request,
            "registry/datafield_detail.html",
            {
                "field": data_field,
                "automations": automations,
                "versions": history_versions(data_field, limit=30),
                "panels": render_datafield_panels(request, data_field),
            },
        )


class DataFieldCreateView(RoleRequiredMixin, View):
    required = "govern"

    def get(self, request):
        return render(request, "registry/datafield_form.html", {"form": DataFieldForm()})

    def post(self, request):
        form = DataFieldForm(request.POST)
        if form.is_valid():
            try:
                data_field = services.datafield_create(
                    by=request.user,
                    reason=form.cleaned_data.get("change_reason") or "Added to the data dictionary",
                    **form.service_kwargs(),
                )
            except ValidationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, f"{data_field.qualified_name} is in the data dictionary.")
                return redirect(data_field)
        return render(request, "registry/datafield_form.html", {"form": form}, status=400)


class DataFieldEditView(RoleRequiredMixin, View):
    required = "govern"

    def get(self, request, pk):
        data_field = get_object_or_404(DataField, pk=pk)
        return render(
            request,
            "registry/datafield_form.html",
            {"form": DataFieldForm(instance=data_field, editing=True), "field": data_field},
        )

    def post(self, request, pk):
        data_field = get_object_or_404(DataField, pk=pk)
        form = DataFieldForm(request.POST, instance=DataField.objects.get(pk=pk), editing=True)
        if form.is_valid():
            try:
                updated = services.datafield_update(
                    data_field=data_field,
                    by=request.user,
                    reason=form.cleaned_data["change_reason"],
                    expected_revision=form.submitted_revision(),
                    **form.service_kwargs(),
                )
            except StaleWrite as exc:
                context = {"form": form, "field": data_field, **stale_context(exc, form)}
                return render(request, "registry/datafield_form.html", context, status=409)
            except ValidationError as exc:
                form.add_service_error(exc)
            else:
                if updated.changed_at and updated.changed_at != data_field.changed_at:
                    count = updated.automations.count()
                    messages.warning(
                        request, f"Definition or status changed: {count} automation(s) using it are now due for review."
                    )
                else:
                    messages.success(request, "Saved.")
                return redirect(updated)
        return render(request, "registry/datafield_form.html", {"form": form, "field": data_field}, status=400)


# --- Change events ----------------------------------------------------------------------------
class ChangeEventListView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request):
        filterset = ChangeEventFilter(request.GET, queryset=selectors.change_event_queryset())
        queryset = filterset.qs.distinct() if filterset.is_valid() else selectors.change_event_queryset().none()
        return render(
            request,
            "registry/changeevent_list.html",
            {"filter": filterset, "page": _page(request, queryset), "query": _query_without(request, "page")},
        )


class ChangeEventDetailView(RoleRequiredMixin, View):
    required = "read"

    def get(self, request, pk):
        event = get_object_or_404(selectors.change_event_queryset(), pk=pk)
        return render(request, "registry/changeevent_detail.html", {"event": event})


class ChangeEventCreateView(RoleRequiredMixin, View):
    required = "govern"

    def get(self, request):
        initial = {}
        if request.GET.get("automation"):
            initial["automations"] = Automation.objects.filter(key=request.GET["automation"])
        if request.GET.get("data_field"):
            initial["data_fields"] = DataField.objects.filter(
                pk__in=[request.GET["data_field"]] if request.GET["data_field"].isdigit() else []
            )
        return render(request, "registry/changeevent_form.html", {"form": ChangeEventForm(initial=initial)})

    def post(self, request):
        form = ChangeEventForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                event = services.change_event_record(
                    by=request.user,
                    kind=data["kind"],
                    title=data["title"],
                    description=data["description"],
                    occurred_on=data["occurred_on"],
                    automations=data["automations"],
                    data_fields=data["data_fields"],
                )
            except ValidationError as exc:
                form.add_service_error(exc)
            else:
                messages.warning(
                    request, f"Recorded. {event.automations.count()} automation(s) are now due for review."
                )
                return redirect(event)
        return render(request, "registry/changeevent_form.html", {"form": form}, status=400)
