"""The monthly review API, read-only: /api/v1/health-reviews/ and /api/v1/health-review-rows/.
For people with the read capability; integration tokens have no business here."""

from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, viewsets

from registry.choices import Team
from revops_gov.api import StandardPagination

from . import selectors
from .models import HealthReviewRow, Recommendation
from .serializers import HealthReviewOutputSerializer, HealthReviewRowOutputSerializer


@extend_schema_view(
    list=extend_schema(summary="Monthly health reviews (newest first), with their progress"),
    retrieve=extend_schema(summary="One monthly health review"),
)
class HealthReviewViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = StandardPagination

    serializer_class = HealthReviewOutputSerializer

    def get_queryset(self):
        return selectors.review_list()


class RowFilter(filters.FilterSet):
    month = filters.DateFilter(
        field_name="review__month", input_formats=["%Y-%m"], help_text="The review's month, YYYY-MM."
    )
    automation = filters.CharFilter(field_name="automation__key", help_text="Automation key.")
    recommendation = filters.ChoiceFilter(choices=Recommendation.choices)
    team = filters.ChoiceFilter(field_name="automation__team", choices=Team.choices)
    owner = filters.CharFilter(field_name="automation__rule_owner__username", help_text="Rule owner's username.")
    noisy = filters.BooleanFilter()

    class Meta:
        model = HealthReviewRow
        fields = []


@extend_schema_view(
    list=extend_schema(summary="Rows of the monthly health reviews: numbers, questions, recommendation"),
    retrieve=extend_schema(summary="One automation in one monthly review"),
)
class HealthReviewRowViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    pagination_class = StandardPagination
    filterset_class = RowFilter
    filter_backends = [filters.DjangoFilterBackend]

    serializer_class = HealthReviewRowOutputSerializer

    def get_queryset(self):
        return HealthReviewRow.objects.select_related("review", "automation", "confirmed_by").order_by(
            "-review__month", "automation__name", "pk"
        )
