"""One family of application errors, and the one place that turns errors into JSON.

Every API error has the same shape: `{"message": str, "fields": {name: [str]}, "extra": {...}}`
("fields" when input was invalid, "extra" for structured detail such as refused reasons).

A lost database connection (dropped, restarted, failed over) is not the caller's fault and not a
bug: it is a 503 with `Retry-After`, so a CRM retries the same request. Retrying is safe: a request
runs in one transaction (rolled back with the connection), run events are stored once per
(automation, event id) and decisions once per Idempotency-Key.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger(__name__)
DATABASE_RETRY_AFTER_SECONDS = 5


class ApplicationError(Exception):
    """A rule of the domain refused the request. `extra` carries what the caller needs to act."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class Conflict(ApplicationError):
    """The request collides with the current state (already decided, already promoted...)."""

    status_code = status.HTTP_409_CONFLICT


class Forbidden(ApplicationError):
    status_code = status.HTTP_403_FORBIDDEN


def validation_error_fields(error: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            field if field != "__all__" else "non_field_errors": [str(m) for e in errs for m in e.messages]
            for field, errs in error.error_dict.items()
        }
    return {"non_field_errors": list(error.messages)}


def _flatten(detail, prefix=""):
    """DRF error detail (nested dicts/lists) as {"field": [messages]}, nested names dotted."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                for k, v in _flatten(item, f"{prefix}[{index}]" if prefix else f"[{index}]").items():
                    out.setdefault(k, []).extend(v)
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def _summary(fields: dict[str, list[str]]) -> str:
    parts = [f"{name}: {' '.join(messages)}" for name, messages in fields.items()]
    return "Invalid input. " + "; ".join(parts)


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        # A stale write (revops_gov.concurrency.StaleWrite) answers who changed it, when, and the diff.
        body = exc.body() if hasattr(exc, "body") else {"message": exc.message, "extra": exc.extra}
        return Response(body, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        fields = validation_error_fields(exc)
        return Response({"message": _summary(fields), "fields": fields}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, OperationalError | InterfaceError):
        log.warning("Database unavailable during %s: %s", context["request"].path, exc)
        response = Response(
            {
                "message": "The database connection was lost before this request finished. Send the same "
                "request again: what is already stored is answered as a duplicate (run events by event id, "
                "decisions by Idempotency-Key), never stored twice.",
                "extra": {"retry_after_seconds": DATABASE_RETRY_AFTER_SECONDS},
            },
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        response.data = {"message": _summary(fields), "fields": fields}
    else:
        detail = response.data.get("detail", response.data) if isinstance(response.data, dict) else response.data
        response.data = {"message": str(detail)}
    return response
