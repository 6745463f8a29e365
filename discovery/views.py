"""The discovery page (/discovery/, admins): upload metadata, the snapshots with their progress,
the diff between any two, findings, and linking CRM automations to registry records."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from registry.models import Automation
from revops_gov.roles import RoleRequiredMixin, can_govern

from . import selectors, services
from .forms import CompareForm, LinkForm, UploadForm
from .models import Change, MetadataSnapshot, SnapshotStatus
from .parsers import MetadataError


def automation_panel_context(request, automation):
    """The automation page's "in the CRM" panel: state, real reads and writes against the
    registered data fields, blast radius. Registered in DiscoveryConfig.ready() as a panel of
    registry.extensions, so the registry renders it without importing discovery; everyone who
    may read the automation sees it, the links to snapshots only those who may open them."""
    state = selectors.crm_state(automation)
    radius = selectors.blast_radius_for(automation) if state and state.get("version") else None
    return {
        "automation": automation,
        "state": state,
        "radius": radius,
        "may_open_snapshots": can_govern(request.user),
        "findings": list(selectors.findings(automation=automation)[:5]),
    }


def datafield_panel_context(request, data_field):
    """The data field page's blast radius: what reads the field in the CRM, then what reads what
    those write (registered as a panel of registry.extensions)."""
    found = selectors.field_blast_radius(data_field)
    if found is None:
        return {"field": data_field, "snapshot": None, "radius": None, "keys": {}}
    snapshot, radius = found
    keys = selectors.registry_keys(system=snapshot.system, external_ids=[eid for eid, _h, _v in radius.automations])
    return {
        "field": data_field,
        "snapshot": snapshot,
        "radius": radius,
        "rows": [(eid, hops, via, keys.get(eid)) for eid, hops, via in radius.automations],
    }


class SnapshotListView(RoleRequiredMixin, View):
    required = "govern"

    def get(self, request):
        return self.render(request, UploadForm())

    def post(self, request):
        form = UploadForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render(request, form, status=400)
        upload = form.cleaned_data["file"]
        system = form.cleaned_data["system"]
        try:
            path = services.upload_save(chunks=upload.chunks(), filename=upload.name)
            if path.stat().st_size >= services.settings.REVOPS["DISCOVERY_WORKER_FROM_BYTES"]:
                snapshot = services.import_queue(system=system, path=path, by=request.user, source_name=upload.name)
                messages.info(request, f"Snapshot {snapshot.pk} is queued; the worker imports it (progress below).")
                return redirect("discovery:snapshot-detail", snapshot.pk)
            try:
                result = services.metadata_import(system=system, path=path, by=request.user, source_name=upload.name)
            finally:
                services.upload_discard(path)
        except MetadataError as exc:
            form.add_error("file", f"Nothing was imported: {exc}")
            return self.render(request, form, status=400)
        messages.success(
            request,
            f"Imported snapshot {result.snapshot.pk}: {len(result.automations)} automations, "
            f"{len(result.fields)} fields, {len(result.findings)} findings.",
        )
        return redirect("discovery:snapshot-detail", result.snapshot.pk)

    def render(self, request, form, status=200):
        snapshots = list(selectors.snapshots()[:50])
        return render(
            request,
            "discovery/snapshot_list.html",
            {
                "form": form,
                "snapshots": snapshots,
                "compare": CompareForm(),
                "undocumented": selectors.undocumented_count(),
                "running": any(s.status in (SnapshotStatus.QUEUED, SnapshotStatus.RUNNING) for s in snapshots),
            },
            status=status,
        )


class SnapshotDetailView(RoleRequiredMixin, View):
    required = "govern"

    def get(self, request, pk):
        snapshot = get_object_or_404(MetadataSnapshot, pk=pk)
        older = None
        if "older" in request.GET:
            compare = CompareForm({"older": request.GET.get("older"), "newer": pk})
            if compare.is_valid():
                older = MetadataSnapshot.objects.filter(
                    pk=compare.cleaned_data["older"], system=snapshot.system
                ).first()
        else:
            older = selectors.previous_snapshot(snapshot)
        rows = selectors.snapshot_diff(older, snapshot) if snapshot.status == SnapshotStatus.DONE else []
        keys = selectors.registry_keys(system=snapshot.system, external_ids=[r.external_id for r in rows])
        for row in rows:
            row.registry_key = keys.get(row.external_id)
        unlinked = [row for row in rows if row.external_id not in keys and row.after is not None][:50]
        suggestions = {row.external_id: selectors.link_suggestions(row.after) for row in unlinked}
        return render(
            request,
            "discovery/snapshot_detail.html",
            {
                "snapshot": snapshot,
                "older": older,
                "rows": rows,
                "changed": [r for r in rows if r.change != Change.UNCHANGED],
                "keys": keys,
                "fields": [f for f in selectors.field_diff(older, snapshot) if f[1] != Change.UNCHANGED],
                "findings": selectors.findings(snapshot=snapshot),
                "collisions": selectors.collisions(selectors.automations_in(snapshot))
                if snapshot.status == SnapshotStatus.DONE
                else [],
                "unlinked": [(row, suggestions[row.external_id]) for row in unlinked],
                "others": MetadataSnapshot.objects.filter(system=snapshot.system, status=SnapshotStatus.DONE)
                .exclude(pk=snapshot.pk)
                .order_by("-pk")[:50],
                "running": snapshot.status in (SnapshotStatus.QUEUED, SnapshotStatus.RUNNING),
            },
        )


class LinkView(RoleRequiredMixin, View):
    required = "govern"

    def post(self, request, pk):
        snapshot = get_object_or_404(MetadataSnapshot, pk=pk)
        form = LinkForm(request.POST)
        if form.is_valid():
            automation = Automation.objects.filter(key=form.cleaned_data["automation"], system=snapshot.system).first()
            if automation is None:
                messages.error(request, "No registry automation of this system has that key.")
            else:
                try:
                    services.automation_link(
                        automation=automation, external_id=form.cleaned_data["external_id"], by=request.user
                    )
                    messages.success(request, f"{automation.name} is linked to {form.cleaned_data['external_id']}.")
                except ValidationError as exc:
                    messages.error(request, "; ".join(exc.messages))
        else:
            messages.error(request, "Choose a CRM automation and a registry automation to link.")
        return redirect("discovery:snapshot-detail", snapshot.pk)
