"""The backlog's REST API: /api/v1/candidates/ (+ /promote/) and /api/v1/scoring-models/.

Anyone with a role may request a candidate and read the backlog; admins score, triage and promote;
integration tokens read the candidates of their own system only."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from revops_gov import concurrency
from revops_gov.api import token_system
from revops_gov.roles import ReadOrGovern, can_govern, can_read, is_integration

from . import selectors, services
from .filters import CandidateFilter
from .models import ScoringModel
from .serializers import (
    CandidateInputSerializer,
    CandidateOutputSerializer,
    CandidatePatchSerializer,
    PromoteInputSerializer,
    PromoteOutputSerializer,
    ScoringModelSerializer,
)


class ApiCandidateFilter(CandidateFilter):
    default_open = False  # the API lists every status unless filtered


class CandidatePermission(BasePermission):
    """Read: the read capability (integrations: read only). Request (POST): anyone with a role.
    Change and promote: govern."""

    message = "Your role does not allow this."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if is_integration(user):
            return request.method in ("GET", "HEAD", "OPTIONS")
        if request.method in ("GET", "HEAD", "OPTIONS") or view.action == "create":
            return can_read(user)
        return can_govern(user)


@extend_schema_view(
    list=extend_schema(
        summary="List backlog candidates",
        description="Sorted by score (ties by expected value). Every status unless `status` is given.",
    ),
    retrieve=extend_schema(
        summary="Read one candidate, with its group, flags and score arithmetic (and its ETag, for If-Match)"
    ),
    create=extend_schema(
        summary="Request an automation (anyone with a role)",
        request=CandidateInputSerializer,
        responses={201: CandidateOutputSerializer},
    ),
    partial_update=extend_schema(
        summary="Triage and score a candidate (admins, with change_reason)",
        request=CandidatePatchSerializer,
        parameters=[concurrency.IF_MATCH_PARAMETER],
        responses={200: CandidateOutputSerializer, **concurrency.PRECONDITION_RESPONSES},
    ),
)
class CandidateViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    permission_classes = [CandidatePermission]
    filter_backends = [DjangoFilterBackend]
    filterset_class = ApiCandidateFilter
    serializer_class = CandidateOutputSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self):
        return selectors.candidate_queryset(system=token_system(self.request)).select_related("automation")

    def filter_queryset(self, queryset):
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def _read_back(self, pk):
        return CandidateOutputSerializer(self.get_queryset().get(pk=pk), context=self.get_serializer_context()).data

    def create(self, request, *args, **kwargs):
        serializer = CandidateInputSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        candidate = services.candidate_request(
            by=request.user, data_fields=data.pop("data_fields", []), reason="Requested through the API", **data
        )
        return Response(self._read_back(candidate.pk), status=status.HTTP_201_CREATED)

    def retrieve(self, request, *args, **kwargs):
        candidate = self.get_object()
        return concurrency.with_etag(Response(self._read_back(candidate.pk)), candidate)

    def partial_update(self, request, *args, **kwargs):
        candidate = self.get_object()
        expected = concurrency.expected_revision(request, candidate)
        serializer = CandidatePatchSerializer(candidate, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("change_reason", "")
        services.candidate_update(
            candidate=candidate,
            by=request.user,
            reason=reason,
            data_fields=data.pop("data_fields", None),
            expected_revision=expected,
            **data,
        )
        return concurrency.with_etag(Response(self._read_back(candidate.pk)), candidate)

    @extend_schema(
        summary="Promote a ready candidate into the registry (admins; idempotent)",
        description="Creates a proposed automation and its draft approval packet. Promoting again returns "
        "the same automation. A candidate that is not ready is refused with the reasons in `extra.reasons`. "
        "A candidate flagged defer or avoid needs `override_reason` (else 400 naming it); the override is "
        "recorded and shown as the candidate's `promotion_override`.",
        request=PromoteInputSerializer,
        responses={200: PromoteOutputSerializer, 201: PromoteOutputSerializer},
    )
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        candidate = self.get_object()
        serializer = PromoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        already = candidate.automation_id is not None
        automation = services.candidate_promote(
            candidate=candidate, by=request.user, override_reason=serializer.validated_data["override_reason"]
        )
        body = {
            "automation": automation.key,
            "url": request.build_absolute_uri(f"/api/v1/automations/{automation.key}/"),
            "candidate": candidate.pk,
        }
        return Response(body, status=status.HTTP_200_OK if already else status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="List scoring model versions, newest first (ETag: the current version's)"),
    retrieve=extend_schema(summary="Read one scoring model version (with its ETag)"),
    create=extend_schema(
        summary="Publish new weights (admins): a new version (the guide's method), and every open candidate re-scored",
        description="Send the ETag of the current version (from the list or its detail) in If-Match: when "
        "another version was published since, 412 with who, when and the diff, and nothing is published.",
        parameters=[concurrency.IF_MATCH_PARAMETER_OPTIONAL],
        responses={201: ScoringModelSerializer, 412: concurrency.PRECONDITION_RESPONSES[412]},
    ),
)
class ScoringModelViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    permission_classes = [ReadOrGovern]
    serializer_class = ScoringModelSerializer
    integration_access = "read"
    queryset = ScoringModel.objects.select_related("created_by").order_by("-version")

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        response["ETag"] = f'"{services.scoring_model_revision(services.scoring_model_current())}"'
        return response

    def retrieve(self, request, *args, **kwargs):
        model = self.get_object()
        return concurrency.with_etag(Response(self.get_serializer(model).data), model)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        reason = data.pop("reason")
        tags = concurrency.parse_if_match(request.headers.get("If-Match"))
        current = services.scoring_model_revision(services.scoring_model_current())
        # If-Match is optional here (a publish is a new version, not an edit in place), checked when sent.
        expected = None if not tags or "*" in tags else (current if current in tags else tags[0])
        model = services.scoring_model_publish(
            by=request.user,
            reason=reason,
            weights={k.removeprefix("weight_"): v for k, v in data.items()},
            expected_revision=expected,
        )
        return concurrency.with_etag(Response(self.get_serializer(model).data, status=status.HTTP_201_CREATED), model)
