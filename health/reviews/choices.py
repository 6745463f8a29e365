"""The monthly review's choice sets, imported by its models and its rules alike (so neither
imports the other's module to get them)."""

from django.db import models


class Recommendation(models.TextChoices):
    KEEP = "keep", "Keep"
    ADJUST = "adjust", "Adjust"
    PAUSE = "pause", "Pause"
    RETIRE = "retire", "Retire"
