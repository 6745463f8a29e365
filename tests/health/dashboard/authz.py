"""Who may open the dashboard (see tests/authz.py)."""

from tests.authz import PAGE_READ

RULES = {"dashboard:dashboard": ("get", PAGE_READ)}
API_WRITES: dict = {}


def world_kwargs(world) -> dict:
    return {}
