"""Who may use each discovery route (see tests/authz.py): the pages are for admins; the API lets an
integration token import and read its own system's snapshots only."""

from tests.authz import API_READ, API_SCOPED, PAGE_GOVERN, POST_GOVERN

RULES = {
    "discovery:snapshot-list": ("get", PAGE_GOVERN),
    "discovery:snapshot-detail": ("get", PAGE_GOVERN),
    "discovery:link": ("post", POST_GOVERN),
    "api:metadata-snapshot-list": ("get", API_READ),
    "api:metadata-snapshot-detail": ("get", API_SCOPED),
}
API_WRITES = {
    "api:metadata-snapshot-list": (
        "post",
        {
            "anonymous": 401,
            "outsider": 403,
            "viewer": 403,
            "manager": 403,
            "admin": 400,
            "integration": 400,
            "other_integration": 400,
        },
    ),
}


def world_kwargs(world) -> dict:
    from discovery.models import MetadataSnapshot

    snapshot = MetadataSnapshot.objects.create(system=world["automation"].system, source_name="force-app")
    return {
        "discovery:snapshot-detail": {"pk": snapshot.pk},
        "discovery:link": {"pk": snapshot.pk},
        "api:metadata-snapshot-detail": {"pk": snapshot.pk},
    }
