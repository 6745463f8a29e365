"""Filters shared by the apps' APIs."""

from datetime import UTC

import django_filters


class UTCIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time read in UTC: ISO 8601 (and Python) allow offsets up to ±23:59, which
    PostgreSQL refuses (±15:59) with an error instead of an answer."""

    def filter(self, qs, value):
        return super().filter(qs, value.astimezone(UTC) if value else value)
