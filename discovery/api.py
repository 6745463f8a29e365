"""POST /api/v1/metadata-snapshots/: a CI pipeline sends a .zip (multipart `file`) or HubSpot flows
JSON; an integration token imports into its own system. GET lists snapshots and shows one with
its diff to the previous. Bad input: 400 naming the file; over the size cap: 413."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from revops_gov.api import StandardPagination, token_system

from . import selectors, services
from .models import Change, MetadataSnapshot
from .parsers import ArchiveTooLarge, MetadataError


class SnapshotSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", default=None, read_only=True)

    class Meta:
        model = MetadataSnapshot
        fields = [
            "id",
            "system",
            "source_name",
            "created_at",
            "created_by",
            "status",
            "progress",
            "error",
            "automation_count",
            "field_count",
        ]


class RawJSONParser(JSONParser):
    """The body as bytes, parsed by the HubSpot parser itself (its errors name line and column)."""

    def parse(self, stream, media_type=None, parser_context=None):
        return {"__raw__": stream.read() if stream is not None else b""}


def _error(exc: MetadataError) -> Response:
    code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE if isinstance(exc, ArchiveTooLarge) else status.HTTP_400_BAD_REQUEST
    return Response(
        {"message": f"Nothing was imported: {exc}", "file": exc.file, "line": exc.line, "detail": exc.message},
        status=code,
    )


def snapshot_json(snapshot: MetadataSnapshot) -> dict:
    """The import's JSON (as the command prints it) rebuilt from what is stored, with the diff to
    the previous snapshot of the system."""
    previous = selectors.previous_snapshot(snapshot)
    rows = selectors.snapshot_diff(previous, snapshot)
    keys = selectors.registry_keys(system=snapshot.system, external_ids=[row.external_id for row in rows])
    automations = [
        services.automation_json(row.current, change=row.change, registry_key=keys.get(row.external_id)) for row in rows
    ]
    fields = [
        {"name": row.name, "type": row.type, "label": row.label}
        for row in selectors.fields_in(snapshot).order_by("name")
    ]
    findings = [
        {"kind": f.kind, "automation": f.external_id, "message": f.message}
        for f in selectors.findings(snapshot=snapshot)
    ]
    diff = {
        "previous": previous.pk if previous else None,
        "automations": [
            {"external_id": row.external_id, "change": row.change, "definition_diff": row.definition_diff}
            for row in rows
            if row.change != Change.UNCHANGED
        ],
        "fields": [
            {
                "name": name,
                "change": change,
                "type_before": before.type if before else None,
                "type_after": after.type if after else None,
            }
            for name, change, before, after in selectors.field_diff(previous, snapshot)
            if change != Change.UNCHANGED
        ],
    }
    return {
        "snapshot": snapshot.pk,
        "system": snapshot.system,
        "status": snapshot.status,
        "progress": snapshot.progress,
        "error": snapshot.error,
        "automations": automations,
        "fields": fields,
        "findings": findings,
        "diff": diff,
    }


@extend_schema(tags=["discovery"])
class SnapshotListCreateView(APIView):
    integration_access = "write"
    parser_classes = [MultiPartParser, RawJSONParser]

    def get_queryset(self):
        return selectors.snapshots(system=token_system(self.request))

    @extend_schema(
        summary="Metadata snapshots (newest first)",
        operation_id="metadata_snapshots_list",
        responses=inline_serializer(
            "PaginatedSnapshotList",
            {
                "count": serializers.IntegerField(),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": SnapshotSerializer(many=True),
            },
        ),
    )
    def get(self, request):
        paginator = StandardPagination()
        page = paginator.paginate_queryset(self.get_queryset(), request, view=self)
        return paginator.get_paginated_response(SnapshotSerializer(page, many=True).data)

    @extend_schema(
        summary="Import CRM metadata: a .zip (multipart `file`) or HubSpot v4 flows JSON",
        request={"multipart/form-data": OpenApiTypes.OBJECT, "application/json": OpenApiTypes.OBJECT},
        responses={
            201: OpenApiResponse(OpenApiTypes.OBJECT, description="The import's JSON, as the command prints it"),
            202: OpenApiResponse(OpenApiTypes.OBJECT, description="A large upload queued for the worker"),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Bad input, the file named"),
            413: OpenApiResponse(OpenApiTypes.OBJECT, description="Over the size cap"),
        },
    )
    def post(self, request):
        system = token_system(request) or request.query_params.get("system") or request.POST.get("system", "")
        if not system:
            return Response(
                {
                    "message": "Say which system this metadata is from.",
                    "fields": {"system": ["This field is required."]},
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        cap = settings.REVOPS["DISCOVERY_MAX_ARCHIVE_BYTES"]
        try:
            if int(request.META.get("CONTENT_LENGTH") or 0) > cap:
                raise ArchiveTooLarge("", f"the upload is larger than {cap} bytes")
            services.check_system(system)
            if "__raw__" in request.data:
                path = services.upload_save(chunks=[request.data["__raw__"]], filename="flows.json")
            elif "file" in request.FILES:
                upload = request.FILES["file"]
                path = services.upload_save(chunks=upload.chunks(), filename=upload.name)
            else:
                return Response(
                    {"message": "Send a .zip as multipart `file`, or HubSpot flows JSON as the body.",
                     "fields": {"file": ["No file was sent."]}},
                    status=status.HTTP_400_BAD_REQUEST,
                )  # fmt: skip
        except MetadataError as exc:
            return _error(exc)
        if path.stat().st_size >= settings.REVOPS["DISCOVERY_WORKER_FROM_BYTES"]:
            snapshot = services.import_queue(system=system, path=path, by=request.user, source_name=path.name)
            return Response(
                {"snapshot": snapshot.pk, "system": system, "status": snapshot.status, "url": snapshot_url(snapshot)},
                status=status.HTTP_202_ACCEPTED,
            )
        try:
            result = services.metadata_import(system=system, path=path, by=request.user, source_name=path.name)
        except MetadataError as exc:
            return _error(exc)
        finally:
            services.upload_discard(path)
        return Response(result.as_json(), status=status.HTTP_201_CREATED)


def snapshot_url(snapshot: MetadataSnapshot) -> str:
    from django.urls import reverse

    return reverse("api:metadata-snapshot-detail", args=[snapshot.pk])


@extend_schema(tags=["discovery"])
class SnapshotDetailView(APIView):
    integration_access = "read"

    @extend_schema(summary="One snapshot, with its diff to the previous", responses=OpenApiTypes.OBJECT)
    def get(self, request, pk: int):
        snapshot = get_object_or_404(selectors.snapshots(system=token_system(request)), pk=pk)
        return Response(snapshot_json(snapshot))
