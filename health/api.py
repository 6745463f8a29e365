"""The health API: run events in (one or a batch), Healthchecks-style pings, findings out.
An integration token reports on and reads only the automations of its own system."""

from django.conf import settings
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.models import Automation
from revops_gov.api import StandardPagination, token_system
from revops_gov.filters import UTCIsoDateTimeFilter

from . import selectors, services
from .choices import FindingKind, FindingStatus, Severity
from .serializers import FindingOutputSerializer, IngestResultSerializer, RunEventOutputSerializer

RUN_EXAMPLE = OpenApiExample(
    "One lead-routing run",
    value={
        "automation": "inbound-lead-routing-emea",
        "event_id": "a0B5g00000XyZ12",
        "started_at": "2026-11-25T09:00:00Z",
        "finished_at": "2026-11-25T09:00:02Z",
        "outcome": "success",
        "records_affected": 1,
        "owner_assigned": "dana@example.com",
        "data_as_of": "2026-11-25T08:55:00Z",
    },
    request_only=True,
)


class RunFilter(filters.FilterSet):
    automation = filters.CharFilter(field_name="automation__key", help_text="Automation key.")
    outcome = filters.ChoiceFilter(
        choices=[("running", "running"), ("success", "success"), ("failure", "failure"), ("skipped", "skipped")]
    )
    since = UTCIsoDateTimeFilter(
        field_name="started_at", lookup_expr="gte", help_text="Only runs started at or after this time (ISO 8601)."
    )


class RunListIngestView(generics.ListAPIView):
    """GET: recent runs (newest first). POST: one run event, or a list of up to 1,000."""

    serializer_class = RunEventOutputSerializer
    pagination_class = StandardPagination
    filterset_class = RunFilter
    filter_backends = [filters.DjangoFilterBackend]
    parser_classes = [JSONParser]
    integration_access = "write"

    def get_queryset(self):
        return selectors.run_queryset(system=token_system(self.request)).order_by("-started_at", "-id")

    @extend_schema(
        summary="Report run events (one, or a batch of up to 1,000)",
        description="Each item is answered created, duplicate (same automation and event id, stored once) or "
        "error (with its fields); valid items are stored even when others are not. One object in: "
        "201 created, 200 duplicate, 400 with the fields.",
        request={"application/json": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}},
        responses={200: IngestResultSerializer, 201: IngestResultSerializer},
        examples=[RUN_EXAMPLE],
    )
    def post(self, request):
        data = request.data
        limit = settings.REVOPS["HEALTH_INGEST_MAX_BATCH"]
        single = isinstance(data, dict)
        if single:
            items = [data]
        elif isinstance(data, list):
            items = data
            if not items:
                raise ValidationError({"batch": ["Send at least one run event."]})
            if len(items) > limit:
                raise ValidationError(
                    {"batch": [f"At most {limit:,} run events per request; this one has {len(items):,}."]}
                )
        else:
            raise ValidationError({"batch": ["Send one run event (a JSON object) or a list of them."]})
        result = services.runs_ingest(items=items, by=request.user, system=token_system(request))
        body = {"summary": result.summary, "results": result.results}
        if single:
            item = result.results[0]
            if item["status"] == "error":
                raise ValidationError(item["fields"])
            return Response(body, status=status.HTTP_201_CREATED if item["status"] == "created" else status.HTTP_200_OK)
        return Response(body, status=status.HTTP_200_OK)


class RunPingView(APIView):
    """POST /automations/{key}/runs/start | success | failure — the body of a failure is its error text."""

    integration_access = "write"
    parser_classes = []

    @extend_schema(
        summary="Ping a run: start, success or failure",
        description="For simple integrations. `?rid=` names the run (otherwise the latest open one is ended). "
        "A start without an end within the expected duration opens a “running too long” finding.",
        request={"text/plain": {"type": "string"}},
        responses={200: RunEventOutputSerializer, 201: RunEventOutputSerializer},
    )
    def post(self, request, key, kind):
        automations = Automation.objects.all()
        system = token_system(request)
        if system:
            automations = automations.filter(system=system)
        automation = get_object_or_404(automations, key=key)
        body = request.body.decode("utf-8", errors="replace") if kind == "failure" else ""
        run, created = services.run_ping(
            automation=automation, kind=kind, by=request.user, run_id=request.query_params.get("rid", ""), body=body
        )
        return Response(
            RunEventOutputSerializer(run).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class FindingFilter(filters.FilterSet):
    automation = filters.CharFilter(field_name="automation__key", help_text="Automation key.")
    kind = filters.ChoiceFilter(choices=FindingKind.choices)
    severity = filters.ChoiceFilter(choices=Severity.choices)
    status = filters.ChoiceFilter(choices=FindingStatus.choices)
    owner = filters.CharFilter(field_name="owner__username")


@extend_schema(summary="Health findings (newest first)")
class FindingViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = FindingOutputSerializer
    pagination_class = StandardPagination
    filterset_class = FindingFilter
    filter_backends = [filters.DjangoFilterBackend]
    integration_access = "read"

    def get_queryset(self):
        return selectors.finding_queryset(system=token_system(self.request)).order_by("-opened_at", "-id")
