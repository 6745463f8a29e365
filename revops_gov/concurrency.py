"""No lost updates (issue 15 §4): every edit carries the revision it was made from.

The revision of an object is its newest history row (django-simple-history writes one on every
write through the services; a recompute such as re-scoring, done with `update()`, is not an
edit and leaves it alone). A scoring model is never edited in place: publishing writes a new
version, so the revision of "the scoring model" is the newest version's number.

The services stay the writers: each takes `expected_revision=` and calls `check_fresh` after
locking the row (select_for_update), in the same transaction as the write, so two concurrent
saves cannot both pass the check. A stale write raises `StaleWrite` and nothing is written:
the API answers 412 (`api_exception_handler`), a form re-renders with 409 (`StaleFormMixin`).

The API: GET of one object sets `ETag`; PATCH/PUT must send it back in `If-Match` (428 when
missing, 412 when stale). Strong ("...") and weak (W/"...") forms are both accepted."""

from datetime import date, datetime
from decimal import Decimal

from django import forms
from django.db import models
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers, status

from .errors import ApplicationError

IF_MATCH_HINT = (
    "Send the ETag of your last GET of this object in If-Match, so a change made since then is not overwritten."
)


# --- The revision --------------------------------------------------------------------------
def _latest_history(obj):
    return obj.history.select_related("history_user").order_by("-history_id").first()


def revision_of(obj) -> str:
    """The concurrency token of `obj` as it is stored now ("" for an object without history)."""
    if hasattr(type(obj), "history"):
        record = obj.history.order_by("-history_id").values_list("history_id", flat=True).first()
        return f"{obj.pk}.{record}" if record is not None else f"{obj.pk}.0"
    if hasattr(obj, "version"):
        return f"v{obj.version}"
    raise TypeError(f"{type(obj).__name__} has no revision")


def etag_for(obj) -> str:
    return f'"{revision_of(obj)}"'


def _last_change(obj) -> tuple[str, datetime | None]:
    if hasattr(type(obj), "history"):
        record = _latest_history(obj)
        if record is None:
            return "someone", None
        user = record.history_user
        return (user.get_full_name() or user.get_username()) if user else "the system", record.history_date
    by = getattr(obj, "created_by", None)
    return (by.get_full_name() or by.get_username()) if by else "the system", getattr(obj, "created_at", None)


# --- The diff ------------------------------------------------------------------------------
def _plain(value):
    if isinstance(value, models.Manager):
        value = list(value.all())
    if isinstance(value, list | tuple | set | models.QuerySet):
        return sorted(str(_plain(v)) for v in value)
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, Decimal):
        return str(value.normalize()) if value == value.to_integral() else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _current(obj, name):
    if hasattr(obj, f"weight_{name}") or name.startswith("weight_"):
        weights = getattr(obj, "weights", None) or {}
        return weights.get(name.removeprefix("weight_"))
    try:
        return getattr(obj, name)
    except (AttributeError, ValueError):
        return None


def diff(obj, submitted: dict) -> dict[str, list]:
    """{field: [theirs (as stored now), yours (as submitted)]} for each submitted field that differs."""
    out = {}
    for name, yours in (submitted or {}).items():
        if name in {"change_reason", "reason", "revision"}:
            continue
        theirs, mine = _plain(_current(obj, name)), _plain(yours)
        if theirs in (None, "") and mine in (None, ""):
            continue
        if theirs != mine and str(theirs) != str(mine):
            out[name] = [theirs, mine]
    return out


# --- The refusal ---------------------------------------------------------------------------
class PreconditionRequired(ApplicationError):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED


class StaleWrite(ApplicationError):
    """The object changed since the writer read it: nothing is written."""

    status_code = status.HTTP_412_PRECONDITION_FAILED

    def __init__(self, obj, submitted: dict | None = None):
        self.obj = obj
        self.changed_by, self.changed_at = _last_change(obj)
        self.diff = diff(obj, submitted or {})
        when = timezone.localtime(self.changed_at).strftime("%Y-%m-%d %H:%M:%S %Z") if self.changed_at else "?"
        self.when = when
        super().__init__(
            f"Changed by {self.changed_by} at {when} since you opened it; nothing was saved. "
            "Review their change and submit again.",
            {},
        )

    def body(self) -> dict:
        return {
            "message": self.message,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat() if self.changed_at else None,
            "diff": self.diff,
            "current_etag": etag_for(self.obj),
        }


def check_fresh(obj, expected_revision: str | None, submitted: dict | None = None) -> None:
    """Call after locking `obj`'s row, in the write's transaction. None means "not checked"
    (a service called by another service or a command); anything else must be the current revision."""
    if expected_revision is None:
        return
    if str(expected_revision) != revision_of(obj):
        raise StaleWrite(obj, submitted)


# --- The API -------------------------------------------------------------------------------
def parse_if_match(header: str | None) -> list[str] | None:
    """The revisions an If-Match names (W/ and quotes stripped); ["*"] for any; None when absent."""
    if header is None or not header.strip():
        return None
    tags = []
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith(("W/", "w/")):
            tag = tag[2:]
        tags.append(tag.strip().strip('"'))
    return [tag for tag in tags if tag]


def expected_revision(request, obj) -> str:
    """The revision a PATCH/PUT was made from: 428 without If-Match; `*` means the current one.
    With several tags, the one that matches now wins (else the first, which is then stale)."""
    tags = parse_if_match(request.headers.get("If-Match"))
    if not tags:
        raise PreconditionRequired(
            "If-Match is required to change this object. " + IF_MATCH_HINT, {"header": "If-Match"}
        )
    current = revision_of(obj)
    if "*" in tags or current in tags:
        return current
    return tags[0]


class ETagRetrieveMixin:
    """GET of one object answers with its ETag."""

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        if response.status_code == 200 and "ETag" not in response:
            response["ETag"] = etag_for(self.get_object())
        return response


def with_etag(response, obj):
    response["ETag"] = etag_for(obj)
    return response


IF_MATCH_PARAMETER = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The ETag of your last GET of this object (strong or W/ weak). Missing: 428; stale: 412.",
)
IF_MATCH_PARAMETER_OPTIONAL = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="The ETag of the current version you based this on (strong or W/ weak). Stale: 412.",
)
PRECONDITION_RESPONSES = {
    412: OpenApiResponse(
        inline_serializer(
            "StaleWrite",
            {
                "message": serializers.CharField(),
                "changed_by": serializers.CharField(),
                "changed_at": serializers.DateTimeField(allow_null=True),
                "diff": serializers.DictField(child=serializers.ListField()),
                "current_etag": serializers.CharField(),
            },
        ),
        description="Changed since your ETag: who, when and {field: [theirs, yours]}; nothing written.",
    ),
    428: OpenApiResponse(
        inline_serializer(
            "PreconditionRequired", {"message": serializers.CharField(), "extra": serializers.DictField()}
        ),
        description="If-Match is missing.",
    ),
}


# --- Forms ---------------------------------------------------------------------------------
class RevisionFormMixin:
    """A hidden `revision`: the revision the form was opened at (a model form's instance's, or
    `revision=`). The view passes `form.submitted_revision()` to the service as `expected_revision`."""

    def __init__(self, *args, revision: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        instance = getattr(self, "instance", None)
        if revision is None and instance is not None and instance.pk:
            revision = revision_of(instance)
        self.fields["revision"] = forms.CharField(widget=forms.HiddenInput, required=False, initial=revision)

    def submitted_revision(self) -> str:
        # A form posted without one (a page opened before this check existed) is stale.
        return (self.data.get(self.add_prefix("revision")) or "").strip() or "missing"

    def refresh_revision(self, obj) -> None:
        """After a stale refusal the form shows the other change; submitting again means "mine wins"."""
        self.data = self.data.copy()
        self.data[self.add_prefix("revision")] = revision_of(obj)


def stale_error(exc: StaleWrite) -> str:
    return f"Changed by {exc.changed_by} at {exc.when} since you opened it. Nothing was saved."


def stale_context(exc: StaleWrite, form=None) -> dict:
    """What a template shows of a refused stale submit (templates/includes/form_errors.html):
    who, when and the fields that differ. The form's revision moves to the current one."""
    if form is not None and hasattr(form, "refresh_revision"):
        form.refresh_revision(exc.obj)
    rows = []
    for name, (theirs, yours) in exc.diff.items():
        label = name
        if form is not None and name in form.fields:
            label = form.fields[name].label or name
        rows.append({"field": name, "label": label, "theirs": theirs, "yours": yours})
    return {"stale": {"message": stale_error(exc), "by": exc.changed_by, "at": exc.when, "diff": rows}}
