"""The registry's REST API (/api/v1/automations/, /data-fields/, /change-events/).

Thin: validate the shape, call a service, serialize the result read back through the selectors.
An integration token sees and changes only the automations of its own system."""

from django.core.exceptions import ValidationError
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from revops_gov import concurrency
from revops_gov.api import token_system
from revops_gov.errors import Forbidden

from . import cache as registry_cache
from . import permissions, selectors, services
from .filters import AutomationFilter, ChangeEventFilter, DataFieldFilter
from .models import Automation
from .serializers import (
    AutomationDetailOutputSerializer,
    AutomationInputSerializer,
    AutomationOutputSerializer,
    AutomationPatchSerializer,
    ChangeEventSerializer,
    DataFieldSerializer,
)

AUTOMATION_EXAMPLE = OpenApiExample(
    "Lead routing (a person's token)",
    value={
        "key": "inbound-lead-routing-emea",
        "name": "Inbound lead routing (EMEA)",
        "business_purpose": "Route inbound leads to the right rep within five minutes.",
        "workflow_type": "lead_routing",
        "team": "sales",
        "system": "salesforce",
        "trigger": "A lead is created from a web form in EMEA.",
        "rule": "Named account owner wins; otherwise territory by country and segment; then capacity.",
        "rule_owner": "alex",
        "failure_owner": "alex",
        "data_fields": ["Lead.Segment__c", "Lead.Country"],
        "assigns_ownership": True,
        "change_reason": "Documented from the Salesforce flow",
    },
    request_only=True,
)
INTEGRATION_AUTOMATION_EXAMPLE = OpenApiExample(
    "Found in the CRM (an integration token: no owners, flags, tier, cadence or status)",
    value={
        "key": "inbound-lead-routing-emea",
        "name": "Inbound lead routing (EMEA)",
        "business_purpose": "Route inbound leads to the right rep within five minutes.",
        "workflow_type": "lead_routing",
        "team": "sales",
        "trigger": "A lead is created from a web form in EMEA.",
        "rule": "Named account owner wins; otherwise territory by country and segment; then capacity.",
        "external_id": "301Hs00000EMEA",
        "data_fields": ["Lead.Segment__c", "Lead.Country"],
        "change_reason": "Registered by the Salesforce integration",
    },
    request_only=True,
)
CREATE_DESCRIPTION = (
    "A new automation is always proposed; `status` is read-only (400) and moves only through "
    "`POST /api/v1/automations/{key}/transition/`. An integration token registers in its own system and may "
    "not send governance fields (owners, impact flags, `risk_tier_override`, `review_cadence`, "
    "`last_reviewed_at`, `status`): 403 naming the field."
)


@extend_schema_view(
    list=extend_schema(summary="List automations", description="Filters match the registry page."),
    retrieve=extend_schema(
        summary="Read one automation by key (with its ETag, for If-Match on PATCH)",
        responses=AutomationDetailOutputSerializer,
    ),
    create=extend_schema(
        summary="Register an automation (always proposed)",
        description=CREATE_DESCRIPTION,
        request=AutomationInputSerializer,
        responses={201: AutomationDetailOutputSerializer},
        examples=[AUTOMATION_EXAMPLE, INTEGRATION_AUTOMATION_EXAMPLE],
    ),
    partial_update=extend_schema(
        summary="Change an automation (with change_reason)",
        description="`key`, `status` and `last_reviewed_at` are not changed here (400). An integration token "
        "may change the description of its own system's automations, never a governance field (owners, impact "
        "flags, `risk_tier_override`, `review_cadence`): 403 naming the field.",
        request=AutomationPatchSerializer,
        parameters=[concurrency.IF_MATCH_PARAMETER],
        responses={200: AutomationDetailOutputSerializer, **concurrency.PRECONDITION_RESPONSES},
    ),
)
class AutomationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    lookup_field = "key"
    lookup_value_regex = r"[a-z0-9_-]+"
    filter_backends = [DjangoFilterBackend]
    filterset_class = AutomationFilter
    integration_access = "write"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        system = token_system(self.request)
        if self.action == "list":
            return selectors.automation_queryset(system=system).order_by("name", "pk")
        return selectors.automation_card_queryset(system=system)

    def get_serializer_class(self):
        if self.action == "list":
            return AutomationOutputSerializer
        if self.action == "partial_update":
            return AutomationPatchSerializer
        if self.action == "create":
            return AutomationInputSerializer
        return AutomationDetailOutputSerializer

    def filter_queryset(self, queryset):
        # Filters apply to the list; a lookup by key is not a search.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def retrieve(self, request, *args, key=None, **kwargs):
        """The hot read of integrations: the card comes from the cache (registry.cache), rebuilt
        from the database when anything it shows has changed."""
        card, generation = registry_cache.card_get(key)
        if card is None:
            automation = get_object_or_404(selectors.automation_card_queryset(), key=key)
            card = dict(AutomationDetailOutputSerializer(automation, context={"request": None}).data)
            card.pop("url", None)
            # The revision travels with the card: every write bumps the card's generation.
            card["_etag"] = concurrency.etag_for(automation)
            registry_cache.card_set(key, generation, card)
        card = dict(card)
        etag = card.pop("_etag", None)
        scope = token_system(request)
        if scope and card["system"] != scope:
            raise NotFound()
        response = Response({"key": card["key"], "url": request.build_absolute_uri(request.path), **card})
        if etag:
            response["ETag"] = etag
        return response

    def _read_back(self, key):
        automation = selectors.automation_get(key=key)
        return AutomationDetailOutputSerializer(automation, context=self.get_serializer_context()).data

    def _check_system(self, system):
        scope = token_system(self.request)
        if scope and system and system != scope:
            raise Forbidden(
                f"This token belongs to a {scope} integration; it cannot register or move automations of {system}.",
                {"field": "system"},
            )

    def _refuse_governance_fields(self):
        if hasattr(self.request.data, "keys"):
            permissions.integration_write_refusal(user=self.request.user, fields=self.request.data.keys())

    def create(self, request, *args, **kwargs):
        self._refuse_governance_fields()
        serializer = AutomationInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("change_reason", "") or "Registered through the API"
        scope = token_system(request)
        data.setdefault("system", scope)
        if not data["system"]:
            raise ValidationError({"system": "This field is required (only an integration token implies it)."})
        self._check_system(data["system"])
        if Automation.objects.filter(key=data["key"]).exists():
            raise ValidationError({"key": f"An automation with key {data['key']} already exists."})
        automation = services.automation_create(by=request.user, reason=reason, **data)
        return Response(self._read_back(automation.key), status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        automation = self.get_object()
        self._refuse_governance_fields()
        expected = concurrency.expected_revision(request, automation)
        serializer = AutomationPatchSerializer(
            automation, data=request.data, partial=True, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("change_reason", "")
        self._check_system(data.get("system"))
        services.automation_update(
            automation=automation, by=request.user, reason=reason, expected_revision=expected, **data
        )
        return concurrency.with_etag(Response(self._read_back(automation.key)), automation)


@extend_schema_view(
    list=extend_schema(summary="List the data dictionary"),
    retrieve=extend_schema(summary="Read one data field (with its ETag, for If-Match on PATCH)"),
    create=extend_schema(summary="Add a field to the data dictionary"),
    partial_update=extend_schema(
        summary="Change a data field (with change_reason); a new definition or status flags its automations for review",
        parameters=[concurrency.IF_MATCH_PARAMETER],
        responses={200: DataFieldSerializer, **concurrency.PRECONDITION_RESPONSES},
    ),
)
class DataFieldViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    serializer_class = DataFieldSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = DataFieldFilter
    integration_access = "read"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.datafield_queryset().order_by("object_name", "api_name")

    def _refuse_governance_fields(self):
        if hasattr(self.request.data, "keys"):
            permissions.integration_write_refusal(user=self.request.user, fields=self.request.data.keys())

    def create(self, request, *args, **kwargs):
        self._refuse_governance_fields()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("change_reason", "") or "Added through the API"
        data_field = services.datafield_create(by=request.user, reason=reason, **data)
        return Response(
            self.get_serializer(self.get_queryset().get(pk=data_field.pk)).data, status=status.HTTP_201_CREATED
        )

    def retrieve(self, request, *args, **kwargs):
        data_field = self.get_object()
        return concurrency.with_etag(Response(self.get_serializer(data_field).data), data_field)

    def partial_update(self, request, *args, **kwargs):
        data_field = self.get_object()
        expected = concurrency.expected_revision(request, data_field)
        serializer = self.get_serializer(data_field, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("change_reason", "")
        services.datafield_update(
            data_field=data_field, by=request.user, reason=reason, expected_revision=expected, **data
        )
        return concurrency.with_etag(
            Response(self.get_serializer(self.get_queryset().get(pk=data_field.pk)).data), data_field
        )


@extend_schema_view(
    list=extend_schema(summary="List change events"),
    retrieve=extend_schema(summary="Read one change event"),
    create=extend_schema(summary="Record a change event; the automations it affects become due for review"),
)
class ChangeEventViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    serializer_class = ChangeEventSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = ChangeEventFilter
    integration_access = "read"

    def get_queryset(self):
        return selectors.change_event_queryset(system=token_system(self.request)).order_by("-recorded_at", "-pk")

    def _refuse_governance_fields(self):
        if hasattr(self.request.data, "keys"):
            permissions.integration_write_refusal(user=self.request.user, fields=self.request.data.keys())

    def create(self, request, *args, **kwargs):
        self._refuse_governance_fields()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        event = services.change_event_record(
            by=request.user,
            kind=data["kind"],
            title=data["title"],
            description=data.get("description", ""),
            occurred_on=data["occurred_on"],
            automations=data.get("automations", []),
            data_fields=data.get("data_fields", []),
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=event.pk)).data, status=status.HTTP_201_CREATED)
