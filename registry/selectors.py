"""Reads of the registry that pages, the API and other apps reuse, scoped to who is asking."""

from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from . import cache as registry_cache
from .choices import DataFieldStatus, OwnerRole
from .models import Automation, AutomationReview, ChangeEvent, DataField, Hold
from .review import ReviewStatus, annotate_review_due, review_status

OWNER_FIELDS = tuple(role.value for role in OwnerRole)


def _card_queryset(*, system: str | None = None) -> QuerySet[Automation]:
    """What every view of an automation shows: owners joined, fields and tags prefetched."""
    queryset = Automation.objects.select_related(*OWNER_FIELDS).prefetch_related(
        Prefetch("data_fields", queryset=DataField.objects.order_by("object_name", "api_name")),
        "tags",
    )
    return queryset.filter(system=system) if system else queryset


def automation_queryset(*, system: str | None = None, now=None) -> QuerySet[Automation]:
    """Automations for lists, filters and counts, in a constant number of queries: the derived
    facts (review due, untrusted field used, on hold) are SQL annotations.

    `system` limits the result to one system (an integration token's scope)."""
    queryset = annotate_review_due(_card_queryset(system=system), now=now or timezone.now())
    return queryset.annotate(
        uses_untrusted_field=Exists(
            DataField.objects.filter(automations=OuterRef("pk")).exclude(status=DataFieldStatus.TRUSTED)
        ),
        has_open_hold=Exists(Hold.objects.filter(automation=OuterRef("pk"), released_at__isnull=True)),
    )


def automation_card_queryset(*, system: str | None = None) -> QuerySet[Automation]:
    """Automations with everything one card shows; their derived facts come from the prefetched
    relations (see `card_facts`), which also give their reasons."""
    return _card_queryset(system=system).prefetch_related(
        Prefetch("change_events", queryset=ChangeEvent.objects.order_by("-recorded_at")),
        Prefetch("holds", queryset=Hold.objects.select_related("opened_by", "released_by")),
    )


def automation_get(*, key: str, system: str | None = None) -> Automation:
    """One automation's card; raises Automation.DoesNotExist."""
    return automation_card_queryset(system=system).get(key=key)


@dataclass
class CardFacts:
    review: ReviewStatus
    untrusted_fields: list[DataField]
    open_holds: list[Hold]


def card_facts(automation: Automation, *, now=None) -> CardFacts:
    """The derived facts of one automation read by `automation_get`, with their reasons; the
    same rules as the annotations of `automation_queryset`."""
    return CardFacts(
        review=review_status(automation, now=now or timezone.now()),
        untrusted_fields=[f for f in automation.data_fields.all() if f.status != DataFieldStatus.TRUSTED],
        open_holds=[hold for hold in automation.holds.all() if hold.is_open],
    )


def registry_attention_counts(*, system: str | None = None) -> dict[str, int]:
    """The numbers an admin taking stock needs first, each the size of a filtered list.

    One aggregate over every automation: cached until anything in the registry changes (and for
    at most a minute, for reviews falling due with time)."""
    cache_key = f"registry:attention:{system or 'all'}:{registry_cache.registry_generation()}"
    counts = cache.get(cache_key)
    if counts is None:
        counts = _attention_counts(system=system)
        cache.set(cache_key, counts, registry_cache.CARD_TTL)
    return counts


def _attention_counts(*, system: str | None) -> dict[str, int]:
    queryset = automation_queryset(system=system).exclude(status="retired").order_by()
    # Aggregate names must differ from the annotation names they filter on: an aggregate named
    # like an annotation replaces it, and its FILTER then reads nothing.
    counts = {
        "review_due": Q(review_due=True),
        "uses_untrusted_field": Q(uses_untrusted_field=True),
        "high_tier": Q(risk_tier_rank=3),
        "on_hold": Q(has_open_hold=True),
        **{f"missing_{role}": Q(**{f"{role}__isnull": True}) for role in OWNER_FIELDS},
    }
    result = queryset.aggregate(
        n_total=Count("pk"), **{f"n_{name}": Count("pk", filter=condition) for name, condition in counts.items()}
    )
    return {name.removeprefix("n_"): value for name, value in result.items()}


def datafield_queryset() -> QuerySet[DataField]:
    return (
        DataField.objects.select_related("owner")
        .annotate(automation_count=Count("automations"))
        .order_by("object_name", "api_name")
    )


def change_event_queryset(*, system: str | None = None) -> QuerySet[ChangeEvent]:
    """Change events with their automations and fields. Given a system (an integration token's),
    only the events touching that system's automations, and of each only those automations: an
    event that also affected another CRM's automations does not name them."""
    automations = Automation.objects.only("pk", "key", "name", "system")
    events = ChangeEvent.objects.all()
    if system:
        automations = automations.filter(system=system)
        events = events.filter(pk__in=ChangeEvent.objects.filter(automations__system=system).values("pk"))
    return events.select_related("recorded_by").prefetch_related(
        Prefetch("automations", queryset=automations),
        Prefetch("data_fields", queryset=DataField.objects.only("pk", "object_name", "api_name")),
    )


def automation_reviews(*, automation: Automation, limit: int = 10) -> list[AutomationReview]:
    """The latest recorded reviews of one automation, newest first, with their reviewers."""
    return list(AutomationReview.objects.filter(automation=automation).select_related("reviewed_by")[:limit])


def open_holds(*, automation: Automation) -> QuerySet[Hold]:
    return automation.holds.filter(released_at__isnull=True)
