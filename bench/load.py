"""The load test: a team's whole mix at once against the production shape on 127.0.0.1 — gunicorn
(production settings), one Celery worker delivering the decision webhooks to a local CRM receiver,
PostgreSQL and Redis (cache and broker).

One wrk per kind of traffic runs at the same time for BENCH_LOAD_DURATION (default 30s), each with
its own Lua script (bench/load_*.lua, after bench/load_common.lua, which counts every answer
outside 2xx):

- permit checks: GET /api/v1/automations/{key}/permit/, a random one of 50 live automations;
- run ingest: POST /api/v1/runs/, batches of BENCH_LOAD_BATCH (100) new run events;
- decision creation: POST /api/v1/decisions/ with the integration's token;
- decides: POST /api/v1/decisions/{id}/decide/, each a different seeded open request (its outcome
  goes to the outbox; the worker delivers it to the receiver);
- list pages: decisions, runs, findings and automations, 50 a page, in turn.

Reported: requests/s sustained and p50/p99 per kind, errors (must be 0), CPU of each process group
sampled from /proc every second (gunicorn, the Celery worker, the PostgreSQL backends of the bench
database, Redis, wrk) with which saturates first, webhook deliveries and the Celery backlog, and
the database size per million run events: measured on the ingest of this run and on a COPY of
BENCH_LOAD_SIZE_EVENTS (100,000) events into a copy of the table with the same indexes.
"""

import datetime
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

from bench.common import (
    PORT,
    ROOT,
    WORKERS,
    bench_admin,
    live_strategic_routing,
    parse_wrk,
    require_wrk,
    salesforce_integration_token,
    setup,
    start_server,
)

os.environ.setdefault("CELERY_BROKER_URL", os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/2"))
DURATION = os.environ.get("BENCH_LOAD_DURATION", "30s")
AUTOMATIONS = 50
BATCH = int(os.environ.get("BENCH_LOAD_BATCH", "100"))
SIZE_EVENTS = int(os.environ.get("BENCH_LOAD_SIZE_EVENTS", "100000"))
WORKER_CONCURRENCY = int(os.environ.get("BENCH_LOAD_WORKER_CONCURRENCY", "1"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
# (label, script, connections, token): one wrk each, all at once.
MIX = (
    ("Permit check `GET /api/v1/automations/{key}/permit/`", "load_permit.lua", 2, "integration"),
    (f"Run ingest `POST /api/v1/runs/` (batches of {BATCH})", "load_runs.lua", 2, "integration"),
    ("Decision creation `POST /api/v1/decisions/`", "load_create.lua", 1, "integration"),
    ("Decide `POST /api/v1/decisions/{id}/decide/`", "load_decide.lua", 1, "admin"),
    ("List pages (decisions, runs, findings, automations; 50 a page)", "load_lists.lua", 2, "admin"),
)


def _seconds(text: str) -> float:
    return float(text[:-1]) * {"s": 1, "m": 60}[text[-1]]


def seed(receiver_url: str):
    """50 live automations (approved packet: the permit says live), the Salesforce integration
    with its webhook on the local receiver, and enough open requests for the decides."""
    from approvals.decisions.models import DecisionRequest
    from registry.models import Automation
    from revops_gov import services
    from revops_gov.models import Integration

    admin = bench_admin()
    for i in range(AUTOMATIONS):
        live_strategic_routing(
            key=f"bench-load-{i:03d}",
            name=f"Load strategic lead routing {i:03d}",
            admin=admin,
            purpose="Carry the load test.",
        )
    integration, sf_token = salesforce_integration_token(name="bench-load-sf", admin=admin)
    # Only this integration has a webhook: the other benches' integrations must not get outcomes.
    Integration.objects.filter(system="salesforce").exclude(pk=integration.pk).update(webhook_url="")
    Integration.objects.filter(pk=integration.pk).update(
        webhook_url=receiver_url, webhook_secret="bench-secret-0123456789"
    )
    _, admin_token = services.api_token_create(user=admin, name=f"bench load {time.time()}", by=admin)
    now = datetime.datetime.now(datetime.UTC)
    automation = Automation.objects.get(key="bench-load-000")
    decides = max(2000, int(150 * _seconds(DURATION)))
    rows = DecisionRequest.objects.bulk_create(
        [
            DecisionRequest(
                automation=automation,
                kind="strategic_lead_route",
                record_system="salesforce",
                record_object="Lead",
                record_id=f"00QLOAD{i:06d}",
                why="Seeded for the load test.",
                evidence=[],
                proposed_action="Route to the named owner.",
                assignee=admin,
                due_at=now + datetime.timedelta(hours=4),
                expires_at=now + datetime.timedelta(days=7),
                created_by=admin,
            )
            for i in range(decides)
        ],
        batch_size=2000,
    )
    return {"integration": sf_token, "admin": admin_token}, rows[0].pk


# --- CPU from /proc ---------------------------------------------------------------------------
def _stat(pid: int) -> tuple[int, int] | None:
    """(session id, CPU ticks used) of a process, None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[3]), int(fields[11]) + int(fields[12])


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuSampler(threading.Thread):
    """Every second, the CPU ticks of each process group: by session (gunicorn, the worker, the
    wrk processes each run in their own), the PostgreSQL backends serving the bench database, and
    redis-server. A process seen first mid-run counts from then."""

    def __init__(self, sessions: dict[str, list[int]], database_url: str):
        super().__init__(daemon=True)
        self.sessions = sessions
        self.database_url = database_url
        self.first: dict[tuple[str, int], int] = {}
        self.last: dict[tuple[str, int], int] = {}
        self.stop = threading.Event()
        self.started = time.monotonic()
        self.machine_start = _machine_ticks()

    def _groups(self, pg_pids: set[int]) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {name: [] for name in [*self.sessions, "PostgreSQL (bench backends)", "Redis"]}
        session_of = {sid: name for name, sids in self.sessions.items() for sid in sids}
        for entry in Path("/proc").glob("[0-9]*"):
            pid = int(entry.name)
            stat = _stat(pid)
            if stat is None:
                continue
            if stat[0] in session_of:
                groups[session_of[stat[0]]].append(pid)
            elif pid in pg_pids:
                groups["PostgreSQL (bench backends)"].append(pid)
            elif _comm(pid) == "redis-server":
                groups["Redis"].append(pid)
        return groups

    def run(self):
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            name = self.database_url.rsplit("/", 1)[1]
            while not self.stop.is_set():
                pg = {r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,))}
                for group, pids in self._groups(pg).items():
                    for pid in pids:
                        stat = _stat(pid)
                        if stat:
                            self.first.setdefault((group, pid), stat[1])
                            self.last[(group, pid)] = stat[1]
                self.stop.wait(1)
        self.elapsed = time.monotonic() - self.started
        busy, total = _machine_ticks()
        self.machine_busy = (busy - self.machine_start[0]) / max(1, total - self.machine_start[1])

    def percent(self) -> dict[str, float]:
        """% of one core, per group, over the run."""
        used: dict[str, int] = {}
        for key, last in self.last.items():
            used[key[0]] = used.get(key[0], 0) + last - self.first[key]
        return {group: ticks / CLK_TCK / self.elapsed * 100 for group, ticks in used.items()}


def saturation(cpu: dict[str, float], machine_busy: float) -> str:
    """Which resource runs out first, from each group's CPU against what it may use."""
    cores = os.cpu_count() or 1
    capacity = {
        "gunicorn": WORKERS * 100,  # sync workers: one request at a time each, one core at most
        "Celery worker": WORKER_CONCURRENCY * 100,
        "PostgreSQL (bench backends)": cores * 100,
    }
    ratios = {name: cpu.get(name, 0) / limit for name, limit in capacity.items()}
    top = max(ratios, key=ratios.get)
    biggest = max((n for n in cpu if n != "wrk (load generators)"), key=lambda n: cpu[n])
    if machine_busy >= 0.85:
        return (
            f"the machine's CPU ({cores} cores, {machine_busy:.0%} busy) saturates first; of the app, "
            f"{biggest} uses the most ({cpu[biggest]:.0f} % of a core) — {top} is at {ratios[top]:.0%} "
            "of what it may use"
        )
    if ratios[top] >= 0.85:
        return f"{top} saturates first ({ratios[top]:.0%} of its {capacity[top] // 100} core(s))"
    return (
        f"nothing saturated (machine {machine_busy:.0%} busy; {top} at {ratios[top]:.0%} of its "
        f"{capacity[top] // 100} core(s)): the load generator, not the app, set the rate"
    )


# --- Database size ----------------------------------------------------------------------------
def runevent_size() -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('health_runevent'), count(*) FROM health_runevent")
        return cursor.fetchone()


def copy_size_per_million() -> float:
    """Bytes per million run events of a COPY of SIZE_EVENTS into a temporary copy of the table
    with the same indexes and constraints (nothing is left behind)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.health import _rows as rows
    from bench.health import copy_rows
    from registry.models import Automation

    ids = list(Automation.objects.filter(key__startswith="bench-load-").values_list("pk", flat=True))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE load_runevent (LIKE health_runevent INCLUDING ALL) ON COMMIT DROP")
        copy_rows(connection, rows(ids, SIZE_EVENTS, now=timezone.now(), prefix="size-"), table="load_runevent")
        cursor.execute("SELECT pg_total_relation_size('load_runevent')")
        size = cursor.fetchone()[0]
    return size / SIZE_EVENTS * 1e6


# --- The run ----------------------------------------------------------------------------------
def _worker(env, log: Path) -> subprocess.Popen:
    args = [sys.executable, "-m", "celery", "--app", "revops_gov", "worker", "--pool", "prefork"]
    args += ["--concurrency", str(WORKER_CONCURRENCY), "--loglevel", "WARNING", "--without-mingle", "--without-gossip"]
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"The Celery worker stopped:\n{log.read_text()[-2000:]}")
        try:
            import redis

            if redis.Redis.from_url(env["CELERY_BROKER_URL"]).exists("_kombu.binding.celery"):
                return process
        except redis.RedisError:
            pass
        time.sleep(0.5)
    return process


def _script(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text((ROOT / "bench" / "load_common.lua").read_text() + "\n" + (ROOT / "bench" / name).read_text())
    return path


def _queue_length(env) -> int:
    import redis

    return redis.Redis.from_url(env["CELERY_BROKER_URL"]).llen("celery")


def main() -> str:
    """Run the load test; returns the Markdown report."""
    require_wrk()
    env = setup()
    from bench.decisions import Receiver

    receiver = Receiver()
    tokens, first_id = seed(receiver.url)
    folder = Path(tempfile.mkdtemp(prefix="bench-load-"))
    worker = _worker(env, folder / "worker.log")
    server = start_server(env)
    events_before = runevent_size()
    run = uuid.uuid4().hex[:8]
    wrk_env = {
        **os.environ,
        "BENCH_LOAD_AUTOMATIONS": str(AUTOMATIONS),
        "BENCH_LOAD_BATCH": str(BATCH),
        "BENCH_LOAD_RUN": run,
        "BENCH_LOAD_FIRST_ID": str(first_id),
        "BENCH_LOAD_THREADS": "1",
    }
    # Warm each gunicorn worker's connections and the token cache with one request of each token.
    for token in tokens.values():
        for _ in range(WORKERS * 2):
            request = urllib.request.Request(
                f"http://127.0.0.1:{PORT}/api/v1/automations/bench-load-000/permit/",
                headers={"Authorization": f"Bearer {token}"},
            )
            urllib.request.urlopen(request, timeout=10).read()
    processes = []
    try:
        for label, script, connections, token in MIX:
            args = ["wrk", "--latency", "-t", "1", "-c", str(connections), "-d", DURATION, "--timeout", "10s"]
            args += ["-s", str(_script(folder, script)), "-H", f"Authorization: Bearer {tokens[token]}"]
            out = (folder / f"{script}.out").open("w")
            processes.append(
                (
                    label,
                    folder / f"{script}.out",
                    subprocess.Popen(
                        [*args, f"http://127.0.0.1:{PORT}/"], stdout=out, env=wrk_env, start_new_session=True
                    ),
                )
            )
        sampler = CpuSampler(
            {
                "gunicorn": [server.pid],
                "Celery worker": [worker.pid],
                "wrk (load generators)": [p.pid for *_, p in processes],
            },
            env["DATABASE_URL"],
        )
        sampler.start()
        for _, _, process in processes:
            process.wait(timeout=_seconds(DURATION) + 60)
        sampler.stop.set()
        sampler.join()
        events_after = runevent_size()
        backlog_at_end = _queue_length(env)
        from approvals.decisions.models import Decision

        decided = Decision.objects.filter(request_id__gte=first_id, request__record_id__startswith="00QLOAD").count()
        deadline = time.monotonic() + 60
        while len(receiver.arrivals) < decided and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        for _, _, process in processes:
            if process.poll() is None:
                process.kill()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        receiver.server.shutdown()
    results = []
    for label, out, _ in processes:
        text = out.read_text()
        result = parse_wrk(text)
        result["label"] = label
        outside = [line for line in text.splitlines() if line.startswith("Answers outside 2xx: ")]
        socket_and_4xx = result["errors"]
        result["errors"] = max(socket_and_4xx, int(outside[0].rsplit(" ", 1)[1]) if outside else 0)
        results.append(result)
    cpu = sampler.percent()
    stored = events_after[1] - events_before[1]
    grown = events_after[0] - events_before[0]
    copy_per_million = copy_size_per_million()
    stamp = datetime.date.today().isoformat()
    total = sum(r["rps"] for r in results)
    lines = [
        f"Load test, {stamp}: the mix below all at once for {DURATION} against gunicorn ({WORKERS} sync workers, "
        f"production settings), one Celery worker ({WORKER_CONCURRENCY} pool process) delivering the decision "
        f"webhooks to a local receiver, PostgreSQL and Redis, on {os.cpu_count()} cores ({platform.machine()}), "
        f"load average before {os.getloadavg()[0]:.1f}; wrk and the app share the machine.",
        "",
        "| traffic | connections | req/s | p50 | p99 | errors (non-2xx, socket) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for (label, _, connections, _), r in zip(MIX, results, strict=True):
        lines.append(f"| {label} | {connections} | {r['rps']:,.1f} | {r['p50']} | {r['p99']} | {r['errors']} |")
    lines += [
        f"| **all** | {sum(m[2] for m in MIX)} | **{total:,.1f}** | | | **{sum(r['errors'] for r in results)}** |",
        "",
        f"Run events stored during the run: {stored:,} ({stored / _seconds(DURATION):,.0f}/s). "
        f"Decisions taken: {decided:,}; webhooks received by the CRM: {len(receiver.arrivals):,} "
        f"(Celery queue at the end of the load: {backlog_at_end}).",
        "",
        "| process group | CPU (% of one core) |",
        "|---|---:|",
    ]
    for group, percent in sorted(cpu.items(), key=lambda item: -item[1]):
        lines.append(f"| {group} | {percent:.0f} % |")
    lines += [
        f"| whole machine | {sampler.machine_busy * 100 * (os.cpu_count() or 1):.0f} % "
        f"({sampler.machine_busy:.0%} of {os.cpu_count()} cores) |",
        "",
        f"Saturates first: {saturation(cpu, sampler.machine_busy)}.",
        "",
        "Database size per million run events (table, indexes and TOAST): "
        + (
            f"{grown / stored * 1e6 / 2**20:,.0f} MiB measured on this run's ingest, "
            if stored >= 1000
            else "(too few events this run to measure the ingest), "
        )
        + f"{copy_per_million / 2**20:,.0f} MiB on a COPY of {SIZE_EVENTS:,} events into a copy of the table.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
