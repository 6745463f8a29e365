"""The approvals API: the permit check (the CRMs' hot path), lifecycle moves and shadow observations.

Thin: validate the shape, call a service, answer. Integration tokens reach only their own system's
automations (another system's answers 404, as if it did not exist)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.choices import LifecycleStatus, Team, WorkflowType
from registry.models import Automation
from registry.serializers import PersonField
from revops_gov.api import token_system
from revops_gov.roles import GovernOnly

from . import services
from .permit import permit_cached


class PermitOutputSerializer(serializers.Serializer):
    key = serializers.CharField()
    mode = serializers.ChoiceField(choices=["live", "shadow", "blocked"])
    reasons = serializers.ListField(child=serializers.CharField())
    requires_human_decision = serializers.BooleanField()
    risk_tier = serializers.ChoiceField(choices=["low", "medium", "high"])
    version = serializers.IntegerField()


def _scoped_automation(request, key) -> Automation:
    queryset = Automation.objects.all()
    system = token_system(request)
    if system:
        queryset = queryset.filter(system=system)
    return get_object_or_404(queryset, key=key)


class PermitApi(APIView):
    """May this automation run now, and in which mode? Cached; every change invalidates it."""

    integration_access = "read"

    @extend_schema(summary="Permit check before a run", responses=PermitOutputSerializer)
    def get(self, request, key):
        hit = permit_cached(key)
        scope = token_system(request)
        if hit is None or (scope and hit[1] != scope):
            raise NotFound()
        return Response(hit[0])


class TransitionApi(APIView):
    """Move the lifecycle status, through the same gate as the page (RevOps admins only)."""

    permission_classes = [GovernOnly]

    class TransitionInputSerializer(serializers.Serializer):
        to = serializers.ChoiceField(choices=LifecycleStatus.choices)
        reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)

    @extend_schema(
        summary="Move an automation's lifecycle status",
        request=TransitionInputSerializer,
        responses=PermitOutputSerializer,
    )
    def post(self, request, key):
        automation = _scoped_automation(request, key)
        data = self.TransitionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.transition(automation=automation, by=request.user, **data.validated_data)
        return Response(permit_cached(key)[0])


class AdoptApi(APIView):
    """Adopt an automation found running in the CRM (status discovered): document it and move it
    to in design (RevOps admins only; an integration token may not)."""

    permission_classes = [GovernOnly]

    class AdoptInputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=2000)
        business_purpose = serializers.CharField(max_length=4000)
        trigger = serializers.CharField(required=False, allow_blank=True, max_length=2000)
        rule = serializers.CharField(required=False, allow_blank=True, max_length=4000)
        record_changed = serializers.CharField(required=False, allow_blank=True, max_length=2000)
        team = serializers.ChoiceField(choices=Team.choices, required=False)
        workflow_type = serializers.ChoiceField(choices=WorkflowType.choices, required=False)
        rule_owner = PersonField(required=True, allow_null=False)
        failure_owner = PersonField()
        system_owner = PersonField()

    @extend_schema(
        summary="Adopt a discovered automation", request=AdoptInputSerializer, responses=PermitOutputSerializer
    )
    def post(self, request, key):
        automation = _scoped_automation(request, key)
        data = self.AdoptInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.discovered_adopt(automation=automation, by=request.user, **data.validated_data)
        return Response(permit_cached(key)[0])


class RetireInCrmApi(APIView):
    """Record that a discovered automation is retired in the CRM, with the reason (admins only)."""

    permission_classes = [GovernOnly]

    class RetireInCrmInputSerializer(serializers.Serializer):
        reason = serializers.CharField(max_length=2000)

    @extend_schema(
        summary="Record a discovered automation retired in the CRM",
        request=RetireInCrmInputSerializer,
        responses=PermitOutputSerializer,
    )
    def post(self, request, key):
        automation = _scoped_automation(request, key)
        data = self.RetireInCrmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.discovered_retire(automation=automation, by=request.user, **data.validated_data)
        return Response(permit_cached(key)[0])


class ShadowObservationsApi(APIView):
    """Record shadow runs (until health's run ingest records them): what the automation would have
    done and what the human did. The same event id twice is stored once."""

    integration_access = "write"

    class ObservationSerializer(serializers.Serializer):
        event_id = serializers.CharField(max_length=200)
        automation_action = serializers.CharField(max_length=2000)
        human_action = serializers.CharField(max_length=2000)
        agreed = serializers.BooleanField()
        observed_at = serializers.DateTimeField()

    class InputSerializer(serializers.Serializer):
        observations = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=1000)

    @extend_schema(
        summary="Record shadow-mode observations",
        request=inline_serializer(
            "ShadowObservationsInput",
            {
                "observations": serializers.ListField(
                    child=inline_serializer(
                        "ShadowObservation",
                        {
                            "event_id": serializers.CharField(),
                            "automation_action": serializers.CharField(),
                            "human_action": serializers.CharField(),
                            "agreed": serializers.BooleanField(),
                            "observed_at": serializers.DateTimeField(),
                        },
                    )
                )
            },
        ),
        responses=inline_serializer(
            "ShadowObservationsOutput",
            {"created": serializers.IntegerField(), "agreement_rate": serializers.FloatField(allow_null=True)},
        ),
    )
    def post(self, request, key):
        from .gates import shadow_agreement

        automation = _scoped_automation(request, key)
        outer = self.InputSerializer(data=request.data)
        outer.is_valid(raise_exception=True)
        items = self.ObservationSerializer(data=outer.validated_data["observations"], many=True)
        if not items.is_valid():
            raise serializers.ValidationError({"observations": items.errors})
        if automation.status != LifecycleStatus.SHADOW:
            raise serializers.ValidationError(
                {"key": [f"{automation.name} is {automation.get_status_display().lower()}, not in shadow mode."]}
            )
        created = services.shadow_observations_record(
            automation=automation, observations=items.validated_data, by=request.user
        )
        agreement = shadow_agreement(automation)
        return Response({"created": created, "agreement_rate": agreement.rate}, status=201 if created else 200)
