"""The vocabulary of the escaping test (tests/revops_gov/test_xss.py): no text a person or an
integration typed is ever rendered as HTML.

Each app lists its cases in `tests/<app>/xss.py` as `XSS_CASES`, found automatically: a case
stores PAYLOAD in every free-text field of what it creates (`free_text(Model)` lists them) and
returns the pages that show those objects. Every page must show the payload escaped, never raw.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import models

PAYLOAD = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@dataclass(frozen=True)
class XssCase:
    name: str
    # make(admin) stores the payload and returns the URLs of the pages that show it.
    make: Callable[..., list[str]]


def free_text(model, *, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """{field: PAYLOAD} for every text field of `model` a person fills in (no choices, long enough)."""
    values = {}
    for field in model._meta.get_fields():
        if not isinstance(field, models.CharField | models.TextField) or field.name in exclude:
            continue
        if field.choices or (field.max_length and field.max_length < len(PAYLOAD)):
            continue
        if isinstance(field, models.SlugField):
            continue
        values[field.name] = PAYLOAD
    return values
