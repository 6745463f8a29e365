"""The health API: run events in (one or a batch), Healthchecks-style pings, findings out.
An integration token reports on and reads only the automations of its own system."""

import json

from django.conf import settings
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.models import Automation
from revops_gov.api import StandardPagination, token_system
from revops_gov.filters import UTCIsoDateTimeFilter
from revops_gov.roles import can_decide, can_read, is_integration

from . import selectors, services
from .choices import FindingKind, FindingStatus, RunOutcome, Severity
from .models import PlannedHoldWindow
from .serializers import (
    FindingOutputSerializer,
    HoldWindowCancelSerializer,
    HoldWindowInputSerializer,
    HoldWindowOutputSerializer,
    IngestResultSerializer,
    PingBodySerializer,
    PingResultSerializer,
    RunEventInputSerializer,
    RunEventOutputSerializer,
)

FIRST_REPORT = {
    "automation": "inbound-lead-routing-emea",
    "event_id": "a0B5g00000XyZ12",
    "started_at": "2026-11-25T09:00:00Z",
    "finished_at": "2026-11-25T09:00:02Z",
    "outcome": "success",
    "records_affected": 1,
    "owner_assigned": "dana@example.com",
    "task_created": True,
    "data_as_of": "2026-11-25T08:55:00Z",
}
LATE_FACT = {
    "automation": "inbound-lead-routing-emea",
    "event_id": "a0B5g00000XyZ12",
    "task_completed_at": "2026-12-02T16:40:00Z",
    "sla_met": False,
}
CORRECTION = {"automation": "inbound-lead-routing-emea", "event_id": "a0B5g00000XyZ12", "outcome": "failure",
              "error": "Owner was inactive; the lead went back to the queue."}  # fmt: skip
INGEST_EXAMPLES = [
    OpenApiExample("One lead-routing run", value=FIRST_REPORT, request_only=True),
    OpenApiExample("A late fact: the task it created was completed a week later", value=LATE_FACT, request_only=True),
    OpenApiExample("A correction: the CRM now says the run failed", value=CORRECTION, request_only=True),
    OpenApiExample(
        "A batch",
        value=[
            FIRST_REPORT,
            {**FIRST_REPORT, "event_id": "a0B5g00000XyZ13", "outcome": "running", "finished_at": None},
        ],
        request_only=True,
    ),  # fmt: skip
    OpenApiExample(
        "Answers, item by item",
        value={
            "summary": {"created": 1, "merged": 1, "duplicate": 0, "error": 1},
            "results": [
                {"index": 0, "event_id": "a0B5g00000XyZ13", "status": "created"},
                {
                    "index": 1,
                    "event_id": "a0B5g00000XyZ12",
                    "status": "merged",
                    "merged": ["task_completed", "task_completed_at"],
                    "corrected": [{"field": "sla_met", "was": True, "now": False}],
                },
                {
                    "index": 2,
                    "event_id": "x1",
                    "status": "error",
                    "fields": {"outcome": ["Choose one of: running, success, failure, skipped, timed_out."]},
                },
            ],
        },
        response_only=True,
    ),  # fmt: skip
]
RUN_REPORT = PolymorphicProxySerializer(
    component_name="RunEventReport",
    serializers=[RunEventInputSerializer, RunEventInputSerializer(many=True)],
    resource_type_field_name=None,
    many=False,
)


class RunFilter(filters.FilterSet):
    automation = filters.CharFilter(field_name="automation__key", help_text="Automation key.")
    outcome = filters.ChoiceFilter(choices=RunOutcome.choices)
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
        description="A run is identified by its automation and event id. Each item is answered created, merged "
        "(a later report of a stored run: `merged` names the facts it added, `corrected` the ones it contradicted, "
        "each kept with its history), duplicate (nothing new) or error (with its fields); valid items are stored "
        "even when others are not. A first report needs `started_at` and `outcome`; a later one only the facts it "
        "adds. New runs are accepted for shadow, live and paused automations; for a proposed, in-design, approved "
        "(not launched) or retired one a new run is refused: an error item naming `automation` and its status (a "
        "400 for one object). Late facts about a stored run are accepted whatever the status. "
        "One object in: 201 created, 200 merged or duplicate, 400 with the fields.",
        request={"application/json": RUN_REPORT},
        responses={200: IngestResultSerializer, 201: IngestResultSerializer},
        examples=INGEST_EXAMPLES,
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
        operation_id="run_ping",
        summary="Ping a run: start, success or failure",
        description="For simple integrations (the Healthchecks way). `start` opens a run; `success` and `failure` "
        "end the run named by `?rid=`, else the latest one still running, else record a run that started and "
        "ended now. The body of a `failure` is its error text. Ending a stored run is a late fact: a failure "
        "for a run stored as a success is kept as a correction. A start without an end within the expected "
        "duration opens a “running too long” finding; past the maximum duration the run is timed out. "
        "A new run of a proposed, in-design, approved or retired automation is a 400 naming `automation`. "
        "201: a new run; 200: facts added to a stored run, or nothing new.",
        parameters=[
            OpenApiParameter(
                "kind",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=list(services.PING_KINDS),
                description="What happened: the run started, succeeded or failed.",
            ),
            OpenApiParameter(
                "rid",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                description="The run's id (its event id, at most 200 characters): names the run a "
                "start opens and an end finishes. Without it a start gets a new id and an end "
                "finishes the latest run still running.",
            ),
        ],  # fmt: skip
        request={"text/plain": OpenApiTypes.STR, "application/json": PingBodySerializer},
        responses={200: PingResultSerializer, 201: PingResultSerializer},
    )
    def post(self, request, key, kind):
        automations = Automation.objects.all()
        system = token_system(request)
        if system:
            automations = automations.filter(system=system)
        automation = get_object_or_404(automations, key=key)
        body = _ping_error_text(request) if kind == "failure" else ""
        result = services.run_ping(
            automation=automation, kind=kind, by=request.user, run_id=request.query_params.get("rid", ""), body=body
        )
        data = {
            "status": result.status,
            "merged": result.merged,
            "corrected": result.corrected,
            "run": RunEventOutputSerializer(result.run).data,
        }
        return Response(data, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


def _ping_error_text(request) -> str:
    """A failure's error text: the raw body (curl -d "…"), or {"error": "…"} sent as JSON."""
    raw = request.body.decode("utf-8", errors="replace")
    if not (request.content_type or "").startswith("application/json"):
        return raw
    serializer = PingBodySerializer(data=_json_or_error(raw))
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data.get("error", "")


def _json_or_error(raw: str):
    try:
        return json.loads(raw or "{}")
    except ValueError:
        raise ValidationError({"error": ['The body is not JSON; send text/plain, or {"error": "…"}.']}) from None


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


class PeopleReadDecideWrite(BasePermission):
    """People only: reading needs a role, writing the decide capability (the service then checks
    the caller is the failure owner, the system owner or an admin)."""

    message = "Your role does not allow this."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated) or is_integration(user):
            return False
        return can_read(user) if request.method in SAFE_METHODS else can_decide(user)


class HoldWindowFilter(filters.FilterSet):
    automation = filters.CharFilter(field_name="automation__key", help_text="Automation key.")
    current = filters.BooleanFilter(
        method="filter_current", help_text="true: in progress or to come, not cancelled; false: ended or cancelled."
    )

    def filter_current(self, queryset, name, value):
        current = Q(cancelled_at__isnull=True, ends_at__gt=timezone.now())
        return queryset.filter(current) if value else queryset.exclude(current)


@extend_schema(summary="Planned hold windows: times an automation is not expected to run (did-not-run stays quiet)")
class HoldWindowViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = HoldWindowOutputSerializer
    pagination_class = StandardPagination
    filterset_class = HoldWindowFilter
    filter_backends = [filters.DjangoFilterBackend]
    permission_classes = [PeopleReadDecideWrite]

    def get_queryset(self):
        return PlannedHoldWindow.objects.select_related("automation", "created_by", "cancelled_by").order_by(
            "-starts_at", "-id"
        )

    @extend_schema(
        summary="Plan a hold window (the failure owner, the system owner or an admin)",
        request=HoldWindowInputSerializer,
        responses={201: HoldWindowOutputSerializer},
    )
    def create(self, request):
        data = HoldWindowInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        automation = Automation.objects.filter(key=values.pop("automation")).first()
        if automation is None:
            raise ValidationError({"automation": ["No automation has this key."]})
        window = services.hold_window_plan(automation=automation, by=request.user, **values)
        return Response(HoldWindowOutputSerializer(window).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Cancel a hold window not yet ended, with a reason",
        request=HoldWindowCancelSerializer,
        responses={200: HoldWindowOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        window = self.get_object()
        data = HoldWindowCancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        window = services.hold_window_cancel(window=window, by=request.user, reason=data.validated_data["reason"])
        return Response(HoldWindowOutputSerializer(window).data)
