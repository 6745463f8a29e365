"""Who may write what in the registry.

Integrations are machines of one CRM: they may register an automation they found (it starts as
proposed) and keep its description current, but the governance of it — who owns it, how risky it
is, how often it is reviewed, where it is in its lifecycle — is decided by people. An integration
that could clear a tier an admin raised could switch off the human decision the tier requires."""

from collections.abc import Iterable

from revops_gov.errors import Forbidden
from revops_gov.roles import is_integration

from .choices import OwnerRole
from .risk import IMPACT_FLAG_FIELDS

# Field → why an integration may not write it (shown in the 403).
INTEGRATION_REFUSED_FIELDS: dict[str, str] = {
    "status": "the lifecycle status moves only through a lifecycle move by a person, with its gate",
    "risk_tier_override": "the risk tier is raised or lowered by RevOps admins only",
    "risk_tier_override_reason": "the risk tier is raised or lowered by RevOps admins only",
    **{role.value: "owners are named by RevOps admins only" for role in OwnerRole},
    "review_cadence": "the review cadence is set by RevOps admins only",
    "last_reviewed_at": "reviews are recorded by the people who make them",
    **dict.fromkeys(IMPACT_FLAG_FIELDS, "impact flags decide the risk tier; RevOps admins set them"),
}


def integration_write_refusal(*, user, fields: Iterable[str]) -> None:
    """Refuse (403 naming the field) when an integration tries to write a governance field.

    `fields` are the names the caller sent, whatever their values: sending one at all is the
    refusal, so an integration learns at once instead of having its values silently dropped."""
    if not is_integration(user):
        return
    refused = [name for name in INTEGRATION_REFUSED_FIELDS if name in set(fields)]
    if refused:
        first = refused[0]
        raise Forbidden(
            f"An integration token may not write {', '.join(refused)}: {INTEGRATION_REFUSED_FIELDS[first]}. "
            "Leave these fields out; a RevOps admin sets them in the registry.",
            {"field": first, "fields": refused},
        )
