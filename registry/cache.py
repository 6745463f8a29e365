"""A cache of each automation's API card, kept correct by generation numbers.

Readers look up the automation's current generation, then the card stored under it. Every change
that can alter a card (the automation, its fields and tags, a data field it uses, a change event
or a hold on it) bumps the generation after the transaction commits, so new readers miss and
rebuild; a reader that loaded the old row just before the change stores its card under the old
generation, where nobody looks again. Time-dependent facts (a review falling due as the cadence
passes) are at most CARD_TTL seconds late.

Invalidation hangs on model signals (registry/signals.py), so every writer is covered, whichever
app's service made the change.
"""

from django.core.cache import cache
from django.db import transaction

CARD_TTL = 60
GENERATION_TTL = 24 * 3600


def _generation_key(automation_key: str) -> str:
    return f"registry:card-gen:{automation_key}"


def _card_key(automation_key: str, generation: int) -> str:
    return f"registry:card:{automation_key}:{generation}"


def card_get(automation_key: str) -> tuple[dict | None, int]:
    """The cached card (or None) and the generation to store a rebuilt one under."""
    generation = cache.get(_generation_key(automation_key), 0)
    return cache.get(_card_key(automation_key, generation)), generation


def automation_generation(automation_key: str) -> int:
    """The automation's current generation: other apps cache what they derive from it (the
    permit check) under it, so every change that makes a card stale makes theirs stale too."""
    return cache.get(_generation_key(automation_key), 0)


def card_set(automation_key: str, generation: int, card: dict) -> None:
    cache.set(_card_key(automation_key, generation), card, CARD_TTL)


REGISTRY_GENERATION_KEY = "registry:generation"


def registry_generation() -> int:
    """Goes up with every change to any automation's card: summaries across the registry (the
    attention counts) are cached under it."""
    return cache.get(REGISTRY_GENERATION_KEY, 0)


def _bump(keys) -> None:
    try:
        cache.incr(REGISTRY_GENERATION_KEY)
    except ValueError:
        cache.set(REGISTRY_GENERATION_KEY, 1, GENERATION_TTL)
    for key in keys:
        generation_key = _generation_key(key)
        try:
            cache.incr(generation_key)
        except ValueError:
            cache.set(generation_key, 1, GENERATION_TTL)


def invalidate(automation_keys) -> None:
    """Make the cards of these automations stale, now and again once the transaction commits."""
    keys = list(automation_keys)
    if not keys:
        return
    _bump(keys)
    transaction.on_commit(lambda: _bump(keys))
