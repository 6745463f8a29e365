"""The decision queue API: /api/v1/decisions/ (create, list, detail) and .../{id}/decide/.

Integrations create and poll requests of their own system (another system's request is a 404);
people decide with their own tokens."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from revops_gov.api import token_system
from revops_gov.errors import Forbidden
from revops_gov.roles import is_integration

from . import selectors, services
from .filters import DecisionRequestFilter
from .permissions import require_may_decide
from .serializers import DecideInputSerializer, DecisionRequestInputSerializer, DecisionRequestOutputSerializer

RECORD = "https://acme.my.salesforce.com/lightning/r"
CREATE_EXAMPLES = [
    OpenApiExample(
        "Duplicate merge",
        request_only=True,
        value={
            "automation": "duplicate-account-merge",
            "kind": "duplicate_merge",
            "record_object": "Account",
            "record_id": "001A000001Xyz",
            "record_url": f"{RECORD}/Account/001A000001Xyz/view",
            "why": "Same web domain and billing address as Acme Corp (001A000001Abc); both strategic.",
            "evidence": [{"label": "Domain", "value": "acme.com"}, {"label": "Open opportunities", "value": 2}],
            "proposed_action": "Merge 001A000001Xyz into 001A000001Abc, keeping Abc's owner.",
        },
    ),
    OpenApiExample(
        "Strategic lead route",
        request_only=True,
        value={
            "automation": "strategic-lead-routing",
            "kind": "strategic_lead_route",
            "record_object": "Lead",
            "record_id": "00QA000000Lead1",
            "why": "Lead from Globex, a named strategic account; territory rule and named owner disagree.",
            "evidence": {"Account tier": "Strategic", "Territory owner": "jsmith", "Named account owner": "pchen"},
            "proposed_action": "Route to pchen (named account owner).",
        },
    ),
    OpenApiExample(
        "Forecast risk alert",
        request_only=True,
        value={
            "automation": "forecast-commit-hygiene",
            "kind": "forecast_risk_alert",
            "record_object": "Opportunity",
            "record_id": "006A000000Opp1",
            "why": "Commit deal has no next meeting and the close date moved twice.",
            "evidence": {"Amount": "240,000 USD", "Close date pushes": 2, "Next meeting": "none"},
            "proposed_action": "Move from Commit to Best case before the forecast call.",
        },
    ),
    OpenApiExample(
        "Renewal risk summary",
        request_only=True,
        value={
            "automation": "renewal-risk-summary",
            "kind": "renewal_risk_summary",
            "record_object": "Account",
            "record_id": "001A000002Ren",
            "why": "Usage down 38% in 60 days, executive sponsor left, renewal in 75 days.",
            "evidence": {"Usage change": "-38%", "Open P1 tickets": 3, "Renewal date": "2027-02-08"},
            "proposed_action": "Flag red in the executive churn report and open a save plan.",
        },
    ),
    OpenApiExample(
        "Expansion signal",
        request_only=True,
        value={
            "automation": "expansion-signal",
            "kind": "expansion_signal",
            "record_object": "Account",
            "record_id": "001A000003Exp",
            "why": "Seat usage at 96% of the contract for 30 days and a new team signed up.",
            "evidence": {"Seats used": "480 / 500"},
            "proposed_action": "Create an expansion opportunity for 200 seats.",
        },
    ),
]
DECIDE_EXAMPLES = [
    OpenApiExample("Approve a merge", request_only=True, value={"option": "approve_merge"}),
    OpenApiExample(
        "Override a route",
        request_only=True,
        value={"option": "override", "value": "jsmith", "reason": "Globex is handled by the EMEA strategic pod."},
    ),
    OpenApiExample(
        "Dismiss a forecast alert",
        request_only=True,
        value={"option": "dismiss", "reason": "Meeting booked yesterday; not yet in the CRM."},
    ),
    OpenApiExample(
        "Update a forecast category", request_only=True, value={"option": "update_category", "value": "Best case"}
    ),
    OpenApiExample("Assign a save owner", request_only=True, value={"option": "assign_save_owner", "value": "dlee"}),
    OpenApiExample("Create an opportunity", request_only=True, value={"option": "create_opportunity"}),
]


@extend_schema_view(
    list=extend_schema(summary="List decision requests (poll by status, automation, updated_since)"),
    retrieve=extend_schema(summary="Read one decision request and its decision"),
)
class DecisionRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = DecisionRequestOutputSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = DecisionRequestFilter
    integration_access = "write"
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self):
        return selectors.request_queryset(system=token_system(self.request)).order_by("-updated_at", "-pk")

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _read_back(self, pk):
        return DecisionRequestOutputSerializer(
            selectors.request_queryset().get(pk=pk), context=self.get_serializer_context()
        ).data

    @extend_schema(
        summary="Queue a decision (integrations; Idempotency-Key makes a retry safe)",
        request=DecisionRequestInputSerializer,
        responses={201: DecisionRequestOutputSerializer, 200: DecisionRequestOutputSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="The same key again returns the request created the first time (200), never a second.",
            )
        ],
        examples=CREATE_EXAMPLES,
    )
    def create(self, request, *args, **kwargs):
        user = request.user
        if not (is_integration(user) or user.has_perm("revops_gov.govern")):
            raise Forbidden("Only CRM integrations and RevOps admins queue decisions.")
        system = token_system(request)
        serializer = DecisionRequestInputSerializer(data=request.data, system=system)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        decision_request, created = services.decision_request_create(
            by=user,
            automation=data["automation"],
            kind=data["kind"],
            record_object=data["record_object"],
            record_id=data["record_id"],
            record_url=data.get("record_url", ""),
            why=data["why"],
            evidence=data.get("evidence"),
            proposed_action=data["proposed_action"],
            assignee=data.get("assignee"),
            due_at=data.get("due_at"),
            expires_at=data.get("expires_at"),
            idempotency_key=request.headers.get("Idempotency-Key", "")[:200],
        )
        return Response(
            self._read_back(decision_request.pk), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(
        summary="Decide a request, once (the assignee, their manager or an admin, with their own token)",
        description="Needs the decide capability (managers, RevOps admins; never a viewer or an integration): 403 "
        "with the reasons. An option the CRM acts on is refused while the automation's permit is not live: 409 "
        "with the permit's reasons. A value given to an option that takes none: 400 naming `value`. Escalate and "
        "request review hand the request on (it stays open, reassigned, the new assignee notified).",
        request=DecideInputSerializer,
        responses={200: DecisionRequestOutputSerializer},
        examples=DECIDE_EXAMPLES,
    )
    @action(detail=True, methods=["post"], url_path="decide", url_name="decide")
    def decide(self, request, pk=None):
        user = request.user
        # The one check (the service asks it again under the row lock): first what depends on the
        # person alone, so an integration or a viewer learns nothing about the request.
        require_may_decide(user)
        decision_request = self.get_object()
        require_may_decide(user, decision_request)
        serializer = DecideInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.decide(request=decision_request, by=user, **serializer.validated_data)
        return Response(self._read_back(decision_request.pk))

    def get_permissions(self):
        # Deciding is not governing: the service checks assignee / manager / admin.
        if self.action == "decide":
            from rest_framework.permissions import IsAuthenticated

            return [IsAuthenticated()]
        return super().get_permissions()
