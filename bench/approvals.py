"""The permit check under load, next to the bare-framework floor, in one run.

The CRMs call GET /api/v1/automations/{key}/permit/ before every run, so it must cost no more than
a bare DRF single-row read. Same seed, server and wrk settings as bench/registry.py: gunicorn
(2 sync workers, production settings, Redis cache), wrk from a second process.
"""

import datetime
import os
import platform
import time

from bench.common import CONNECTIONS, DURATION, ROWS, WORKERS, require_wrk, server, setup, wrk


def seed() -> tuple[str, str]:
    """The registry bench's automations, an approved packet for the key measured, and a Salesforce
    integration token; returns (key, raw token)."""
    from approvals.choices import PacketState
    from approvals.models import ApprovalPacket
    from bench.registry import seed as registry_seed
    from registry.models import Automation
    from revops_gov import services

    key, _, _ = registry_seed()
    automation = Automation.objects.get(key=key)
    if not ApprovalPacket.objects.filter(automation=automation, state=PacketState.APPROVED).exists():
        ApprovalPacket.objects.create(
            automation=automation,
            number=1,
            state=PacketState.APPROVED,
            automation_version=automation.version,
            workflow_step="Bench",
            rollback_steps="Turn it off.",
        )
    _, raw = services.integration_create(name=f"bench-sf-{time.time()}", system=automation.system)
    return key, raw


def main():
    """Run the approvals bench; returns the Markdown report."""
    require_wrk()
    env = setup()
    key, token = seed()
    bearer = {"Authorization": f"Bearer {token}"}
    cases = [
        ("Bare JsonResponse, one row (floor)", f"/bench/bare-json/{key}/", {}),
        ("Bare DRF view, one row (floor)", f"/bench/bare-drf/{key}/", {}),
        ("GET /api/v1/automations/{key}/permit/ (integration token)", f"/api/v1/automations/{key}/permit/", bearer),
    ]
    with server(env):
        results = [(label, wrk(path, headers)) for label, path, headers in cases]
    floor = results[1][1]["rps"]
    stamp = datetime.date.today().isoformat()
    lines = [
        f"Approvals bench (permit check), {stamp}: {ROWS:,} automations, PostgreSQL, gunicorn {WORKERS} sync "
        f"workers, wrk {CONNECTIONS} connections × {DURATION}, {os.cpu_count()} cores ({platform.machine()}).",
        "",
        "| endpoint | req/s | p50 | p99 | vs bare DRF | non-2xx |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, r in results:
        lines.append(
            f"| {label} | {r['rps']:,.0f} | {r['p50']} | {r['p99']} | {r['rps'] / floor:.0%} | {r['errors']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
