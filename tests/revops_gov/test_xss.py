"""No user-controlled HTML rendered unescaped: every case of every app's `tests/<app>/xss.py`
stores <script>alert(1)</script> in every free-text field and every page showing it escapes it."""

import importlib
from pathlib import Path

import pytest

from tests.xss import ESCAPED, PAYLOAD

TESTS = Path(__file__).resolve().parents[1]


def _cases():
    for path in sorted(TESTS.glob("*/**/xss.py")):
        module = ".".join(("tests", *path.relative_to(TESTS).with_suffix("").parts))
        yield from importlib.import_module(module).XSS_CASES


CASES = list(_cases())


def test_every_app_with_pages_has_cases():
    names = {case.name for case in CASES}
    assert any("automation" in n for n in names) and any("integration" in n for n in names)


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_text_people_typed_is_shown_escaped(case, admin, client):
    urls = case.make(admin)
    client.force_login(admin)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert PAYLOAD not in page, f"{case.name}: {url} renders the script tag unescaped"
        assert ESCAPED in page, f"{case.name}: {url} does not show the stored text at all"
