"""The app's URLs plus two floors to measure against, in the same process and run:
a bare DRF view and a bare JsonResponse view, each reading one automation row by key."""

from django.http import JsonResponse
from django.urls import path
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.models import Automation
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


urlpatterns = [
    path("bench/bare-drf/<slug:key>/", BareDrfView.as_view()),
    path("bench/bare-json/<slug:key>/", bare_json),
    *app_urlpatterns,
]
