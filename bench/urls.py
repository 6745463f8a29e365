"""The app's URLs plus the floors to measure against, in the same process and run:

- a bare DRF view and a bare JsonResponse view, each reading one automation row by key (the
  floors of the card read);
- a bare DRF `ListAPIView` of 50 automations with a plain `ModelSerializer` of the model fields the
  product's list shows, no authentication (the floor of every API list);
- a bare JsonResponse with no database at all (the floor of the ping)."""

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework import generics, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.models import Automation
from registry.serializers import AutomationOutputSerializer
from revops_gov.urls import urlpatterns as app_urlpatterns


class BareSerializer(serializers.ModelSerializer):
    class Meta:
        model = Automation
        exclude = ("data_fields", "tags")


class BareDrfView(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request, key):
        return Response(BareSerializer(Automation.objects.get(key=key)).data)


def bare_json(request, key):
    row = Automation.objects.values("key", "name", "system", "status", "version", "business_purpose").get(key=key)
    return JsonResponse(row)


_MODEL_FIELDS = {f.name for f in Automation._meta.get_fields()}
LIST_FIELDS = tuple(name for name in AutomationOutputSerializer.Meta.fields if name in _MODEL_FIELDS)


class BareListSerializer(serializers.ModelSerializer):
    """The model fields of the product's list, as a plain ModelSerializer renders them."""

    class Meta:
        model = Automation
        fields = LIST_FIELDS


class BarePagination(PageNumberPagination):
    page_size = 50


class BareDrfList(generics.ListAPIView):
    """A bare DRF list of 50 automations: no authentication, no permission, no filter."""

    authentication_classes = []
    permission_classes = []
    filter_backends = []
    serializer_class = BareListSerializer
    pagination_class = BarePagination
    queryset = Automation.objects.prefetch_related("data_fields", "tags").order_by("name", "pk")


@csrf_exempt
def bare_ping(request):
    """The ping floor: a JSON answer with no database."""
    return JsonResponse({"status": "created"}, status=201)


urlpatterns = [
    path("bench/bare-drf/<slug:key>/", BareDrfView.as_view()),
    path("bench/bare-json/<slug:key>/", bare_json),
    path("bench/bare-list/", BareDrfList.as_view()),
    path("bench/bare-ping/", bare_ping),
    *app_urlpatterns,
]
