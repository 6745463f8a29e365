"""What reads cost while Redis is down, next to the same reads with Redis up, in one run.

Starts a private redis-server (BENCH_PROOF_REDIS_PORT, default 6391) as the cache, seeds the
registry bench data (bench/registry.py), runs gunicorn with the production settings and loads the
bare DRF floor, the cached API card and the list page with wrk; then kills Redis and loads them
again: every cache lookup now misses (revops_gov/cache_backends.py) and the database answers.
Errors (non-2xx) must stay 0 in both halves.
"""

import datetime
import os
import platform
import signal
import subprocess
import tempfile
import time

from bench.common import CONNECTIONS, DURATION, ROWS, WORKERS, require_wrk, server, setup, wrk

REDIS_PORT = int(os.environ.get("BENCH_PROOF_REDIS_PORT", "6391"))


def _redis() -> subprocess.Popen:
    folder = tempfile.mkdtemp(prefix="bench-proof-redis-")
    process = subprocess.Popen(
        ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--dir", folder],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(0.5)
    return process


def main():
    """Run the Redis-down bench; returns the Markdown report."""
    require_wrk()
    redis = _redis()
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"
    from bench.registry import seed

    env = setup()
    key, token, session = seed()
    cases = [
        ("Bare DRF view, one row (floor)", f"/bench/bare-drf/{key}/", {}),
        ("GET /api/v1/automations/{key}/ (token)", f"/api/v1/automations/{key}/", {"Authorization": f"Bearer {token}"}),
        ("GET /automations/ list page (50 rows, session)", "/automations/", {"Cookie": f"sessionid={session}"}),
    ]
    try:
        with server(env):
            up = [wrk(path, headers) for _, path, headers in cases]
            os.killpg(redis.pid, signal.SIGKILL)
            redis.wait()
            down = [wrk(path, headers) for _, path, headers in cases]
    finally:
        if redis.poll() is None:
            os.killpg(redis.pid, signal.SIGKILL)
    stamp = datetime.date.today().isoformat()
    lines = [
        f"Redis down bench, {stamp}: {ROWS:,} automations, PostgreSQL, gunicorn {WORKERS} sync workers, "
        f"wrk {CONNECTIONS} connections × {DURATION}, {os.cpu_count()} cores ({platform.machine()}).",
        "",
        "| endpoint | Redis up req/s | p50 | p99 | Redis down req/s | p50 | p99 | non-2xx (up / down) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (label, _, _), u, d in zip(cases, up, down, strict=True):
        lines.append(
            f"| {label} | {u['rps']:,.0f} | {u['p50']} | {u['p99']} | {d['rps']:,.0f} | {d['p50']} | {d['p99']} "
            f"| {u['errors']} / {d['errors']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
