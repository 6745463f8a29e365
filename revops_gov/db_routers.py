"""A read replica for the reads that can lag (DATABASE_REPLICA_URL).

Only GET pages named in REVOPS_REPLICA_VIEWS (the dashboard, lists, review pages, exports) read
from the replica, through `ReplicaReadsMiddleware`; everything else — every write, every read in a
transaction, the permit check, the API, sessions, users, roles and tokens — uses the primary. A
page that reads a few seconds behind is fine for a list; a governance decision never is.
"""

import contextvars
from contextlib import contextmanager

from django.conf import settings
from django.db import connections
from django.http import StreamingHttpResponse

REPLICA = "replica"
_lag_tolerant = contextvars.ContextVar("revops_lag_tolerant", default=False)

# Who you are, what you may do, and the scheduler's state are never read behind the primary.
PRIMARY_ONLY_APPS = frozenset({"auth", "contenttypes", "sessions", "admin", "revops_gov", "django_celery_beat"})


ROUTER = "revops_gov.db_routers.ReplicaRouter"


def replica_configured() -> bool:
    return ROUTER in settings.DATABASE_ROUTERS


@contextmanager
def lag_tolerant():
    """Reads in this block may come from the replica (when one is configured)."""
    token = _lag_tolerant.set(True)
    try:
        yield
    finally:
        _lag_tolerant.reset(token)


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if not _lag_tolerant.get() or model._meta.app_label in PRIMARY_ONLY_APPS:
            return "default"
        if connections["default"].in_atomic_block:
            return "default"  # a read inside a write's transaction sees that transaction
        return REPLICA

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the primary's rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"


def _streamed(content):
    with lag_tolerant():
        yield from content


class ReplicaReadsMiddleware:
    """Marks the GET pages of REVOPS_REPLICA_VIEWS lag-tolerant, streamed exports included."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method not in ("GET", "HEAD") or not replica_configured():
            return None
        if request.resolver_match.view_name not in settings.REVOPS_REPLICA_VIEWS:
            return None
        with lag_tolerant():
            response = view_func(request, *view_args, **view_kwargs)
            if hasattr(response, "render") and callable(response.render):
                response = response.render()
        if isinstance(response, StreamingHttpResponse):
            response.streaming_content = _streamed(response.streaming_content)
        return response
