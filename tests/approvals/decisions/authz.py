"""Who may use each decision-queue route (see tests/authz.py)."""

RULES: dict = {}
API_WRITES: dict = {}


def world_kwargs(world) -> dict:
    """URL arguments for this app's routes, from the shared world (tests/revops_gov/test_authz.py)."""
    return {}
