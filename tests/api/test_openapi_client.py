"""A client generated from /api/schema/ by openapi-python-client has typed models for the run
events (one or a batch, with their per-item answers) and the pings (with their real response
type): a call written against it type-checks with mypy, a wrong one does not, and the call works
against a live server. Slow (it generates and type-checks a package): marked `openapi_client`,
left out of `make test-fast`, run by `make test` on CI."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.urls import reverse

from tests.factories import integration_token
from tests.registry.factories import AutomationFactory

pytestmark = [pytest.mark.openapi_client]
BIN = Path(sys.executable).parent

CALL = """
from datetime import datetime, timezone
from typing import assert_type

from revops_client import AuthenticatedClient
from revops_client.api.automations import run_ping
from revops_client.api.runs import runs_create
from revops_client.models import (
    IngestItemResultStatusEnum, IngestResult, PingBodyRequest, PingResult, PingResultStatusEnum,
    RunEventInputRequest, RunOutcomeEnum, RunPingKind,
)


def report(base_url: str, token: str, key: str) -> tuple[list[str], str, list[str]]:
    client = AuthenticatedClient(base_url=base_url, token=token)
    started = datetime(2026, 11, 28, 9, tzinfo=timezone.utc)
    first = RunEventInputRequest(automation=key, event_id="r1", started_at=started, outcome=RunOutcomeEnum.SUCCESS,
                                 task_created=True)
    late = RunEventInputRequest(automation=key, event_id="r1",
                                task_completed_at=datetime(2026, 12, 5, 9, tzinfo=timezone.utc))
    answer = runs_create.sync(client=client, body=[first, late])
    assert isinstance(answer, IngestResult)
    statuses: list[str] = [item.status.value for item in answer.results]
    assert_type(answer.results[0].status, IngestItemResultStatusEnum)
    failed = PingBodyRequest(error="Owner inactive")
    ping = run_ping.sync(key, RunPingKind.FAILURE, client=client, rid="r1", body=failed)
    assert isinstance(ping, PingResult)
    assert_type(ping.status, PingResultStatusEnum)
    corrected = [c.field for c in ping.corrected]
    return statuses, ping.run.outcome.value, corrected
"""
WRONG = """
from revops_client import AuthenticatedClient
from revops_client.api.automations import run_ping
from revops_client.api.runs import runs_create
from revops_client.models import RunEventInputRequest

client = AuthenticatedClient(base_url="http://x", token="t")
run_ping.sync("key", "startx", client=client)
runs_create.sync(client=client, body=[{"automation": "key"}])
RunEventInputRequest(automation="key", event_id=1, outcome="exploded")
"""


def _require(tool: str) -> str:
    path = shutil.which(tool, path=str(BIN))
    if path is None:
        message = f"{tool} is not installed (pip install -e '.[dev]')"
        if os.environ.get("CI"):
            pytest.fail(message + ": on CI the generated-client test must run.")
        pytest.skip(message)
    return path


# Our calls are checked strictly; the generated package's own code is read for its types, its
# internal typing left to the generator (under --strict it has a few complaints of its own).
MYPY_INI = """
[mypy]
strict = True
python_version = 3.11

[mypy-revops_client.*]
ignore_errors = True
"""


def _mypy(tmp_path: Path, source: str, name: str) -> subprocess.CompletedProcess:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    (tmp_path / "mypy.ini").write_text(MYPY_INI)
    return subprocess.run(
        [_require("mypy"), "--config-file", "mypy.ini", "--no-incremental", "--cache-dir", str(tmp_path / ".mypy"),
         f"{name}.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture
def generated_client(tmp_path, client, admin):
    client.force_login(admin)
    schema = client.get(reverse("api-schema") + "?format=json")
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_bytes(schema.content)
    (tmp_path / "config.yml").write_text("package_name_override: revops_client\nproject_name_override: revops-client\n")
    result = subprocess.run(
        [_require("openapi-python-client"), "generate", "--path", "schema.json", "--config", "config.yml",
         "--meta", "none", "--output-path", "revops_client"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    # Every run-event and ping operation and model is there (text/plain pings are for curl).
    for path in ("api/runs/runs_create.py", "api/automations/run_ping.py", "models/run_event_input_request.py",
                 "models/ingest_item_result.py", "models/ping_result.py", "models/run_ping_kind.py"):  # fmt: skip
        assert (tmp_path / "revops_client" / path).exists(), path
    return tmp_path


@pytest.mark.django_db(transaction=True)
def test_a_generated_client_type_checks_run_event_and_ping_calls_and_they_work(generated_client, live_server):
    checked = _mypy(generated_client, CALL, "call")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    wrong = _mypy(generated_client, WRONG, "wrong")
    assert wrong.returncode == 1, wrong.stdout
    assert wrong.stdout.count("error:") >= 3, wrong.stdout  # the kind, the dict body and the event id
    automation = AutomationFactory(system="salesforce", key="sf-routing")
    token = integration_token(name="sf", system="salesforce")
    sys.path.insert(0, str(generated_client))
    try:
        from call import report  # the module type-checked above

        statuses, outcome, corrected = report(live_server.url, token, automation.key)
    finally:
        sys.path.remove(str(generated_client))
        for name in [m for m in sys.modules if m == "call" or m.startswith("revops_client")]:
            del sys.modules[name]
    assert statuses == ["created", "merged"]
    assert (outcome, corrected) == ("failure", ["outcome"])
