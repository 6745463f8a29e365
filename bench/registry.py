"""The registry's hot reads under load, next to the bare-framework floor, in one run.

Seeds 10,000 automations in the bench PostgreSQL database (bench/common.py), starts gunicorn
(2 sync workers, production settings, Redis cache) and loads each endpoint with wrk from a second
process: the detail read by key, cached and cold, a page of the API list and of the list page,
next to a bare DRF view and a bare JsonResponse view reading one row of the same table.
"""

import datetime
import os
import platform
import time

from bench.common import CONNECTIONS, DURATION, ROWS, WORKERS, bench_admin, require_wrk, server, setup, wrk


def seed() -> tuple[str, str, str]:
    """10,000 automations with owners and fields; returns (a key, an admin token, a session id)."""
    from django.conf import settings
    from django.contrib.sessions.backends.db import SessionStore

    from registry.models import Automation, DataField
    from revops_gov import services

    admin = bench_admin()
    if Automation.objects.count() < ROWS:
        Automation.objects.all().delete()
        fields = [
            DataField.objects.get_or_create(
                object_name="Lead",
                api_name=f"Bench_{i}__c",
                defaults={"label": f"Bench {i}", "definition": "x", "source_of_truth": "salesforce"},
            )[0]
            for i in range(20)
        ]
        automations = Automation.objects.bulk_create(
            [
                Automation(
                    key=f"bench-{i:05d}",
                    name=f"Bench automation {i:05d}",
                    business_purpose="Measure reads.",
                    workflow_type="lead_routing",
                    team="sales",
                    system="salesforce" if i % 2 else "hubspot",
                    trigger="A lead is created.",
                    rule="Territory, then capacity.",
                    rule_owner=admin,
                    failure_owner=admin,
                    exception_owner=admin,
                    assigns_ownership=bool(i % 3),
                    uses_ai=not i % 7,
                    status="live",
                )
                for i in range(ROWS)
            ],
            batch_size=1000,
        )
        through = Automation.data_fields.through
        through.objects.bulk_create(
            [
                through(automation_id=a.pk, datafield_id=fields[(a.pk + j) % 20].pk)
                for a in automations
                for j in range(3)
            ],
            batch_size=5000,
        )
    _, token = services.api_token_create(user=admin, name=f"bench {time.time()}", by=admin)
    session = SessionStore()
    session["_auth_user_id"] = str(admin.pk)
    # The password sign-in's backend: a session naming a backend not configured is logged out.
    session["_auth_user_backend"] = settings.AUTHENTICATION_BACKENDS[0]
    session["_auth_user_hash"] = admin.get_session_auth_hash()
    session.create()
    return "bench-05001", token, session.session_key


def main():
    """Run the registry bench; returns the Markdown report."""
    require_wrk()
    env = setup()
    key, token, session = seed()
    bearer = {"Authorization": f"Bearer {token}"}
    cookie = {"Cookie": f"sessionid={session}"}
    cases = [
        ("Bare JsonResponse, one row (floor)", f"/bench/bare-json/{key}/", {}, None),
        ("Bare DRF view, one row (floor)", f"/bench/bare-drf/{key}/", {}, None),
        ("GET /api/v1/automations/{key}/ (token, cached card)", f"/api/v1/automations/{key}/", bearer, None),
        ("GET /api/v1/automations/{key}/ (random keys, mostly cold)", "/", bearer, "random_key.lua"),
        ("GET /api/v1/automations/ (page of 50)", "/api/v1/automations/", bearer, None),
        ("GET /automations/ list page (50 rows)", "/automations/", cookie, None),
    ]
    with server(env):
        results = [(label, wrk(path, headers, script)) for label, path, headers, script in cases]
    floor = results[1][1]["rps"]
    stamp = datetime.date.today().isoformat()
    lines = [
        f"Registry bench, {stamp}: {ROWS:,} automations, PostgreSQL, gunicorn {WORKERS} sync workers, "
        f"wrk {CONNECTIONS} connections × {DURATION}, {os.cpu_count()} cores ({platform.machine()}).",
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
