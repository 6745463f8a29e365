"""A CRM simulator: one or more CRM integrations (Salesforce, HubSpot…) played against a running
server over HTTP, with nothing but their API tokens — the way a real CRM sees the product.

What it does, for `duration` seconds, at most `rate` requests per second:

- reads its system's automations (`GET /api/v1/automations/`) and keeps `automations` of them,
  live first, then shadow, then the rest (those show that blocked means "do not run");
- plays each automation's expected schedule (interval, cron, or event-driven) in compressed time:
  the simulated clock starts `backfill` hours ago and reaches the real now when the run ends, so
  every run event carries a realistic `started_at` and the newest ones are on time;
- asks the permit check before each run (one check per automation per step) and obeys it:
  blocked runs are not run, shadow runs are reported with `mode: shadow` and their shadow
  observations (`POST …/shadow-observations/`: what the automation would have done, what the human did);
- reports runs singly, in batches, or as Healthchecks-style pings (start, then success or failure),
  with realistic failures, late events (held back and sent after newer ones), duplicates (the same
  event again: the server must answer `duplicate`), one automation running on stale data
  (`data_as_of` 36 h old) and one that breaks after a field change: an admin changes the
  definition of a data field it uses (`PATCH /api/v1/data-fields/{id}/`) a third of the way in,
  and from then on most of its runs fail with an error naming the field;
- queues decision requests of every kind for live automations (`POST /api/v1/decisions/` with an
  `Idempotency-Key`, some sent twice to prove the second answer is the first request);
- runs a real webhook receiver (http.server in a thread) that verifies every signature
  (`X-RevOps-Signature`, HMAC-SHA256 of "<timestamp>.<body>") and records each outcome once by
  `X-RevOps-Event-Id`;
- plays a RevOps admin (a personal token) that decides most of the queued requests and leaves the
  rest waiting, so outcomes flow back through the webhooks;
- prints a summary: events sent, accepted, duplicates recognised, errors, permits
  live/shadow/blocked, decisions created/decided, webhooks received/verified/failed, and every
  HTTP error it met (it never stops on one).

The simulator only speaks HTTP. `provision()` is the exception, for running on the server's own
machine and database (`manage.py simulate_crm --create-tokens`, `make demo`): it makes the
integrations, their tokens and webhooks and an admin's personal token through the services, and
`unprovision()` revokes the tokens afterwards.
"""

import hashlib
import hmac
import http.client
import json
import random
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from croniter import croniter

KINDS = ("duplicate_merge", "strategic_lead_route", "forecast_risk_alert", "renewal_risk_summary", "expansion_signal")
# The impact flag that makes an automation the natural one to ask for each kind (as the demo does).
KIND_FLAGS = {
    "duplicate_merge": "merges_records",
    "strategic_lead_route": "reassigns_strategic_ownership",
    "forecast_risk_alert": "affects_forecast_or_board_metrics",
    "renewal_risk_summary": "flags_churn_in_exec_reporting",
    "expansion_signal": "creates_expansion_pipeline",
}
RECORDS = {
    "duplicate_merge": (
        "Account",
        "Same web domain and billing address as an existing account; both carry open opportunities.",
        {"Domain": "acme.com", "Open opportunities": 2},
        "Merge the newer account into the older one, keeping the older owner.",
    ),
    "strategic_lead_route": (
        "Lead",
        "Lead from a named strategic account; the territory rule and the named-account owner disagree.",
        {"Account tier": "Strategic", "Territory owner": "sam", "Named account owner": "morgan"},
        "Route to the named account owner.",
    ),
    "forecast_risk_alert": (
        "Opportunity",
        "Commit deal has no next meeting and the close date moved twice.",
        {"Amount": "240,000 USD", "Close date pushes": 2, "Next meeting": "none"},
        "Move from Commit to Best case before the forecast call.",
    ),
    "renewal_risk_summary": (
        "Account",
        "Usage down 38% in 60 days and the executive sponsor left; renewal in 75 days.",
        {"Usage change": "-38%", "Open P1 tickets": 3},
        "Flag red in the executive churn report and open a save plan.",
    ),
    "expansion_signal": (
        "Account",
        "Seat usage at 96% of the contract for 30 days and a new team signed up.",
        {"Seats used": "480 / 500"},
        "Create an expansion opportunity for 200 seats.",
    ),
}
TRANSIENT_ERRORS = (
    "UNABLE_TO_LOCK_ROW: unable to obtain exclusive access to this record",
    "REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded",
    "Read timed out calling the enrichment provider",
)
WEBHOOK_PATH = "/hooks/revops"
EVENT_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER = "X-RevOps-Event-Id", "X-RevOps-Timestamp", "X-RevOps-Signature"


# How each answer to a run event counts: a late fact merged into a stored run was accepted too.
EVENT_COUNTS = {"created": "events_accepted", "merged": "events_accepted", "duplicate": "events_duplicate"}


@dataclass
class Config:
    url: str
    tokens: dict[str, str]  # system → integration token
    admin_token: str = ""  # a RevOps admin's personal token: decides, changes a data field
    duration: float = 60.0
    rate: float = 5.0  # at most this many requests per second
    automations: int = 8  # per system
    seed: int = 1
    backfill_hours: float = 24.0
    headers: dict[str, str] = field(default_factory=dict)  # e.g. X-Forwarded-Proto behind a TLS proxy
    webhook_secret: str = ""
    webhook_port: int = 0
    decision_every: float = 3.0  # seconds between decision requests
    decide_share: float = 0.7  # of the requests it queued, the share the admin decides
    drain: float = 20.0  # seconds to wait at the end for outstanding webhooks
    timeout: float = 20.0


# --- The webhook receiver (the CRM's side) ----------------------------------------------------------
def verify_signature(secret: str, body: bytes, timestamp: str, signature: str, *, tolerance: int = 300) -> bool:
    """What a CRM checks before trusting an outcome: a fresh timestamp and the HMAC of "<ts>.<body>"."""
    try:
        if abs(time.time() - int(timestamp)) > tolerance:
            return False
    except (TypeError, ValueError):
        return False
    expected = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature or "")


class WebhookReceiver:
    """An HTTP endpoint on 127.0.0.1 that verifies and records decision outcomes (by event id, once)."""

    def __init__(self, secret: str, port: int = 0):
        self.secret = secret
        self.lock = threading.Lock()
        self.received = 0
        self.verified = 0
        self.failed: list[str] = []
        self.duplicates = 0
        self.outcomes: dict[str, dict] = {}  # event id → payload
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                ok = self.path == WEBHOOK_PATH and verify_signature(
                    receiver.secret,
                    body,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    self.headers.get(SIGNATURE_HEADER, ""),
                )
                receiver.record(self.headers.get(EVENT_HEADER, ""), body, ok)
                self.send_response(200 if ok else 401)
                self.end_headers()
                self.wfile.write(b"ok" if ok else b"bad signature")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}{WEBHOOK_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def record(self, event_id: str, body: bytes, ok: bool) -> None:
        with self.lock:
            self.received += 1
            if not ok:
                self.failed.append(event_id or "(no event id)")
                return
            self.verified += 1
            if event_id in self.outcomes:
                self.duplicates += 1  # at-least-once delivery: drop it, as a CRM must
                return
            try:
                self.outcomes[event_id] = json.loads(body)
            except ValueError:
                self.failed.append(event_id)

    def request_ids(self) -> set[int]:
        with self.lock:
            requests = (payload.get("request") for payload in self.outcomes.values() if isinstance(payload, dict))
            return {request.get("id") for request in requests if isinstance(request, dict) and request.get("id")}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- HTTP -------------------------------------------------------------------------------------------
@dataclass
class Answer:
    status: int  # 0: no answer (connection refused, timeout)
    data: object
    etag: str = ""  # the ETag header, for If-Match on a later PATCH (issue 15 §4)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Client:
    """urllib with bearer tokens, a request rate limit, and every error recorded, never raised."""

    def __init__(self, config: Config, stats: "Stats"):
        self.base = config.url.rstrip("/")
        self.headers = dict(config.headers)
        self.timeout = config.timeout
        self.interval = 1.0 / config.rate if config.rate > 0 else 0.0
        self.next_at = time.monotonic()
        self.stats = stats

    def pace(self) -> None:
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
        self.next_at = max(self.next_at, now) + self.interval

    def call(self, method: str, path: str, token: str, body=None, *, headers=None, raw: bytes | None = None) -> Answer:
        self.pace()
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={
                **self.headers,
                **(headers or {}),
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                **({"Content-Type": "text/plain" if raw is not None else "application/json"} if data else {}),
            },
        )
        self.stats.count["requests"] += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = Answer(response.status, _json(response.read()), response.headers.get("ETag", ""))
        except urllib.error.HTTPError as exc:
            answer = Answer(exc.code, _json(exc.read()))
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            answer = Answer(0, {"message": f"{exc.__class__.__name__}: {getattr(exc, 'reason', exc)}"})
        if not answer.ok:
            self.stats.http_error(method, path, answer)
        return answer


def _json(raw: bytes):
    try:
        return json.loads(raw) if raw else {}
    except ValueError:
        return {"message": raw[:300].decode(errors="replace")}


# --- Counting -----------------------------------------------------------------------------------------
class Stats:
    def __init__(self, out):
        self.out = out
        self.count: Counter = Counter()
        self.errors: list[str] = []

    def http_error(self, method: str, path: str, answer: Answer) -> None:
        self.count["http_errors"] += 1
        self.count[f"http_{answer.status or 'no_answer'}"] += 1
        data = answer.data if isinstance(answer.data, dict) else {"message": str(answer.data)[:300]}
        detail = data.get("message") or data.get("detail") or ""
        if data.get("fields"):
            detail += f" fields={json.dumps(data['fields'])[:300]}"
        line = f"HTTP {answer.status or 'no answer'} {method} {path}: {detail}".strip()
        self.errors.append(line)
        self.out(f"  ! {line}")


# --- The automations it plays ---------------------------------------------------------------------
@dataclass
class Played:
    key: str
    system: str
    status: str
    card: dict
    next_due: datetime
    style: str = "runs"  # "runs" (events) or "pings"
    stale: bool = False
    broken_field: dict | None = None  # the data field whose change breaks it
    mode: str = ""  # the last permit answer
    counter: int = 0
    runs: Counter = field(default_factory=Counter)  # runs due, by the permit's answer

    @property
    def event_driven(self) -> bool:
        kind = self.card.get("schedule_kind") or "none"
        return not (
            (kind == "cron" and self.card.get("schedule_cron"))
            or (kind == "interval" and self.card.get("schedule_interval"))
        )

    def advance(self, after: datetime, rng: random.Random, *, real_time: bool = False) -> datetime:
        """The next scheduled run after `after`, by the automation's expected schedule. Event-driven
        automations run when records arrive: about every 45 min in the compressed past, about every
        15 s once the clock is real (so a few minutes show them working, or failing)."""
        kind = self.card.get("schedule_kind") or "none"
        if kind == "cron" and self.card.get("schedule_cron"):
            return croniter(self.card["schedule_cron"], after).get_next(datetime)
        if kind == "interval" and self.card.get("schedule_interval"):
            return after + parse_duration(self.card["schedule_interval"])
        if real_time:
            return after + timedelta(seconds=rng.expovariate(1 / 15))
        return after + timedelta(minutes=rng.expovariate(1 / 45))


def parse_duration(value: str) -> timedelta:
    """DRF's duration format "[DD ]HH:MM:SS[.ffffff]"."""
    days = 0
    if " " in value:
        head, value = value.split(" ", 1)
        days = int(head)
    hours, minutes, seconds = value.split(":")
    return timedelta(days=days, hours=int(hours), minutes=int(minutes), seconds=float(seconds))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


STATUS_ORDER = {"live": 0, "shadow": 1, "paused": 2, "approved": 3, "in_design": 4, "proposed": 5, "retired": 6}


def choose(cards: list[dict], count: int) -> list[dict]:
    """`count` automations to play: mostly live, a quarter in shadow, and one that may not run
    (paused, in design…), so the permit's three answers all show."""
    cards = sorted(cards, key=lambda c: (STATUS_ORDER.get(c["status"], 9), c["key"]))
    shadow = [c for c in cards if c["status"] == "shadow"][: max(1, count // 4)]
    idle = [c for c in cards if c["status"] not in ("live", "shadow")][:1] if count > 2 else []
    live = [c for c in cards if c["status"] == "live"][: max(count - len(shadow) - len(idle), 0)]
    chosen = live + shadow + idle
    chosen += [c for c in cards if c not in chosen][: max(count - len(chosen), 0)]
    return sorted(chosen[:count], key=lambda c: (STATUS_ORDER.get(c["status"], 9), c["key"]))


# --- The simulation -------------------------------------------------------------------------------------
class Simulation:
    def __init__(self, config: Config, *, out=print, receiver: WebhookReceiver | None = None):
        self.config = config
        self.out = out
        self.rng = random.Random(config.seed)
        self.stats = Stats(out)
        self.client = Client(config, self.stats)
        self.receiver = receiver
        self.session = secrets.token_hex(4)  # event ids and idempotency keys unique to this run
        self.played: list[Played] = []
        self.permits: Counter = Counter()
        self.late: dict[str, deque] = {system: deque() for system in config.tokens}
        self.replays: dict[str, list] = {system: [] for system in config.tokens}
        self.open_requests: dict[int, dict] = {}  # id → {kind, options, at}
        self.decided: set[int] = set()
        self.field_change: dict | None = None
        self.stopped = False
        self.clock_real = False  # set once the past is played (go_real_time)

    # The simulated clock: the first third of the run sweeps the last `backfill` hours (compressed),
    # then it is the real clock, so what happens next (the field change, its failures) is "now".
    def catch_up_seconds(self) -> float:
        return max(self.config.duration / 3, 0.001)

    def real_time(self) -> bool:
        return time.monotonic() - self.started >= self.catch_up_seconds()

    def sim_now(self) -> datetime:
        elapsed = time.monotonic() - self.started
        if elapsed >= self.catch_up_seconds():
            return datetime.now(UTC)
        scale = (self.config.backfill_hours * 3600 + self.catch_up_seconds()) / self.catch_up_seconds()
        return self.window_start + timedelta(seconds=elapsed * scale)

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                request = urllib.request.Request(self.client.base + "/healthz", headers=self.client.headers)
                with urllib.request.urlopen(request, timeout=3):
                    return True
            except urllib.error.HTTPError:
                return True  # it answers (503 names what is down; the API may still serve)
            except (urllib.error.URLError, OSError):
                time.sleep(1)
        return False

    def discover(self) -> None:
        """Each system's automations, live first; pick the stale one and the one a field change breaks."""
        for system, token in self.config.tokens.items():
            answer = self.client.call("GET", f"/api/v1/automations/?system={system}&page_size=500", token)
            if not answer.ok or not isinstance(answer.data, dict):
                continue
            chosen = choose(answer.data.get("results") or [], self.config.automations)
            for index, card in enumerate(chosen):
                played = Played(key=card["key"], system=system, status=card["status"], card=card, next_due=None)
                played.next_due = self._first_due(played)
                played.style = "pings" if index % 5 == 4 and card["status"] == "live" else "runs"
                self.played.append(played)
            live = [p for p in self.played if p.system == system and p.status == "live" and p.style == "runs"]
            # Preferably a record-triggered one: it keeps running (and failing) after the change.
            breakable = sorted((p for p in live if p.card.get("data_fields")), key=lambda p: not p.event_driven)
            if breakable:
                broken = breakable[0]
                broken.broken_field = broken.card["data_fields"][0]
            # A scheduled one, so its stale runs are many and recent.
            stale = sorted((p for p in live if p.broken_field is None), key=lambda p: (p.event_driven, p.key))
            if stale:
                stale[0].stale = True
        self.out(
            f"Playing {len(self.played)} automations: "
            + ", ".join(f"{p.key} ({p.status}{', pings' if p.style == 'pings' else ''})" for p in self.played)
        )

    def _first_due(self, played: Played) -> datetime:
        kind = played.card.get("schedule_kind") or "none"
        if kind == "interval" and played.card.get("schedule_interval"):
            period = parse_duration(played.card["schedule_interval"])
            return self.window_start + timedelta(seconds=self.rng.uniform(0, period.total_seconds()))
        return played.advance(self.window_start, self.rng)

    # --- runs ---
    def step_runs(self) -> bool:
        """Run every automation that is due (oldest first); False when none was."""
        now = self.sim_now()
        due = sorted((p for p in self.played if p.next_due <= now), key=lambda p: p.next_due)
        for played in due:
            times = []
            real = self.clock_real
            while played.next_due <= now and len(times) < 500:
                times.append(played.next_due)
                played.next_due = played.advance(played.next_due, self.rng, real_time=real)
            if len(times) == 500:  # far behind (a very frequent schedule): skip to now
                while played.next_due <= now:
                    played.next_due = played.advance(played.next_due, self.rng, real_time=real)
            self.run(played, times)
            if self.time_up():
                break
        return bool(due)

    def permit(self, played: Played) -> str:
        answer = self.client.call("GET", f"/api/v1/automations/{played.key}/permit/", self.config.tokens[played.system])
        mode = answer.data.get("mode", "blocked") if answer.ok else "blocked"
        self.permits[mode] += 1
        if mode != played.mode and played.mode:
            reasons = "; ".join(answer.data.get("reasons", [])) if answer.ok else "the permit check failed"
            self.out(f"  {played.key}: permit {played.mode} → {mode}{f' ({reasons})' if reasons else ''}")
        played.mode = mode
        return mode

    def run(self, played: Played, times: list[datetime]) -> None:
        mode = self.permit(played)
        played.runs[mode] += len(times)
        if mode == "blocked":
            self.stats.count["runs_not_run_blocked"] += len(times)
            return
        if played.style == "pings":
            self.ping(played, failed=self.rng.random() < 0.1)
            return
        events = [self.event(played, moment, mode) for moment in times]
        self.stats.count["runs_reported"] += len(events)
        token, system = self.config.tokens[played.system], played.system
        now = time.monotonic()
        outgoing = []
        for event in events:
            if self.rng.random() < 0.05:
                self.late[system].append((now + self.rng.uniform(3, 15), event))  # arrives after newer ones
                self.stats.count["events_late"] += 1
            else:
                outgoing.append(event)
        while self.late[system] and self.late[system][0][0] <= now:
            outgoing.append(self.late[system].popleft()[1])
        if self.replays[system] and self.rng.random() < 0.5:
            outgoing.append(self.replays[system].pop())
            self.stats.count["duplicates_sent"] += 1
        self.send(token, outgoing)
        sent = {id(event) for event in outgoing}
        for event in events:
            if id(event) in sent and self.rng.random() < 0.05:
                self.replays[system].append(event)  # the CRM's retry after a lost answer, later
        if mode == "shadow":
            self.shadow_observations(played, events)

    def event(self, played: Played, moment: datetime, mode: str) -> dict:
        played.counter += 1
        rng = self.rng
        failed = rng.random() < 0.04
        error = rng.choice(TRANSIENT_ERRORS) if failed else ""
        if played.broken_field and self.field_change and moment >= self.field_change["at"] and rng.random() < 0.8:
            name = played.broken_field["name"]
            object_name, _, api_name = name.partition(".")
            failed, error = True, f"INVALID_FIELD: No such column '{api_name}' on entity '{object_name}' ({name})"
        outcome = "failure" if failed else ("skipped" if rng.random() < 0.03 else "success")
        event = {
            "automation": played.key,
            "event_id": f"sim-{self.session}-{played.key}-{played.counter}",
            "started_at": iso(moment),
            "finished_at": iso(moment + timedelta(seconds=rng.randint(1, 60))),
            "outcome": outcome,
            "mode": mode,
            "trigger_key": f"{played.key}:{moment:%Y%m%dT%H%M%S}",
            "records_affected": 0 if outcome != "success" else rng.randint(1, 12),
            "data_as_of": iso(
                moment - (timedelta(hours=36) if played.stale else timedelta(minutes=rng.randint(1, 30)))
            ),
            "alerts_sent": rng.randint(0, 2),
        }
        if played.stale:
            self.stats.count["events_stale"] += 1
        if error:
            event["error"] = error
            self.stats.count["events_failed"] += 1
        if played.card.get("workflow_type") == "lead_routing" and outcome == "success":
            event["owner_assigned"] = rng.choice(["dana", "sam", "li"])
            event["response_time_seconds"] = rng.randint(30, 900)
            event["sla_met"] = event["response_time_seconds"] < 600
        return event

    def send(self, token: str, events: list[dict]) -> None:
        if not events:
            return
        if len(events) == 1 and self.rng.random() < 0.5:
            self.stats.count["run_requests_single"] += 1
            answer = self.client.call("POST", "/api/v1/runs/", token, events[0])
            self.stats.count["events_sent"] += 1
            if answer.ok:
                status = (answer.data.get("results") or [{}])[0].get("status")
                self.stats.count[EVENT_COUNTS.get(status, "events_error")] += 1
            else:
                self.stats.count["events_error"] += 1
            return
        for start in range(0, len(events), 500):
            chunk = events[start : start + 500]
            self.stats.count["run_requests_batch"] += 1
            self.stats.count["events_sent"] += len(chunk)
            answer = self.client.call("POST", "/api/v1/runs/", token, chunk)
            if not answer.ok:
                self.stats.count["events_error"] += len(chunk)
                continue
            for item in answer.data.get("results", []):
                status = item.get("status")
                key = EVENT_COUNTS.get(status, "events_error")
                self.stats.count[key] += 1
                if status == "error":
                    self.stats.errors.append(f"run event refused: {json.dumps(item)[:300]}")
                    self.out(f"  ! run event refused: {json.dumps(item)[:300]}")

    def ping(self, played: Played, *, failed: bool) -> None:
        token = self.config.tokens[played.system]
        played.counter += 1
        rid = f"sim-ping-{self.session}-{played.counter}"
        path = f"/api/v1/automations/{played.key}/runs/"
        if self.client.call("POST", f"{path}start?rid={rid}", token).ok:
            self.stats.count["pings"] += 1
        end = "failure" if failed else "success"
        body = rng_error(self.rng).encode() if failed else b""
        if self.client.call("POST", f"{path}{end}?rid={rid}", token, raw=body).ok:
            self.stats.count["pings"] += 1

    def shadow_observations(self, played: Played, events: list[dict]) -> None:
        proposed = "Assign to the territory owner"
        observations = []
        for event in events:
            agreed = self.rng.random() < 0.96
            observations.append(
                {
                    "event_id": event["event_id"],
                    "automation_action": proposed,
                    "human_action": proposed if agreed else "Kept with the named account owner",
                    "agreed": agreed,
                    "observed_at": event["finished_at"],
                }
            )
        answer = self.client.call(
            "POST",
            f"/api/v1/automations/{played.key}/shadow-observations/",
            self.config.tokens[played.system],
            {"observations": observations},
        )
        if answer.ok:
            self.stats.count["shadow_observations"] += answer.data.get("created", 0)

    def go_real_time(self) -> None:
        """The past is played: record-triggered automations now fire as records arrive, every few seconds."""
        now = datetime.now(UTC)
        self.clock_real = True
        for played in self.played:
            if played.event_driven:
                played.next_due = min(played.next_due, played.advance(now, self.rng, real_time=True))
        self.out("  The last hours are played; from now on the clock is real.")

    # --- the field change that breaks one automation ---
    def change_field(self) -> None:
        broken = next((p for p in self.played if p.broken_field), None)
        if broken is None or self.field_change is not None:
            return
        name = broken.broken_field["name"]
        self.field_change = {"at": self.sim_now(), "field": name, "automation": broken.key, "recorded": False}
        self.out(f"  A CRM admin changes {name}; {broken.key} uses it and starts failing.")
        if not self.config.admin_token:
            return
        path = f"/api/v1/data-fields/{broken.broken_field['id']}/"
        # An editor reads before writing: the PATCH carries the ETag it read (issue 15 §4).
        read = self.client.call("GET", path, self.config.admin_token)
        answer = self.client.call(
            "PATCH",
            path,
            self.config.admin_token,
            headers={"If-Match": read.etag} if read.etag else None,
            body={
                "definition": f"Changed by the CRM simulator ({self.session}): picklist values renamed.",
                "change_reason": "Picklist values renamed in the CRM (simulated field change).",
            },
        )
        self.field_change["recorded"] = answer.ok

    # --- decisions ---
    def create_decision(self) -> None:
        kind = KINDS[self.stats.count["decisions_attempted"] % len(KINDS)]
        live = [p for p in self.played if p.mode == "live" and p.card.get("exception_owner") and not p.broken_field]
        if not live:
            return
        self.stats.count["decisions_attempted"] += 1
        flagged = [p for p in live if p.card.get(KIND_FLAGS[kind])]
        played = self.rng.choice(flagged or live)
        record_object, why, evidence, proposal = RECORDS[kind]
        number = self.stats.count["decisions_attempted"]
        record_id = f"SIM{self.session}{number:05d}"
        body = {
            "automation": played.key,
            "kind": kind,
            "record_object": record_object,
            "record_id": record_id,
            "record_url": f"https://crm.example.com/{record_object}/{record_id}",
            "why": why,
            "evidence": evidence,
            "proposed_action": proposal,
        }
        key = f"sim-{self.session}-{number}"
        token = self.config.tokens[played.system]
        answer = self.client.call("POST", "/api/v1/decisions/", token, body, headers={"Idempotency-Key": key})
        if answer.status != 201:
            self.stats.count["decisions_refused"] += 1
            return
        self.stats.count["decisions_created"] += 1
        self.stats.count[f"decisions_{kind}"] += 1
        request_id = answer.data["id"]
        self.open_requests[request_id] = {
            "kind": kind,
            "options": answer.data.get("options", []),
            "at": time.monotonic(),
        }
        if self.rng.random() < 0.2:  # the CRM retries with the same key: the same request answers, 200
            again = self.client.call("POST", "/api/v1/decisions/", token, body, headers={"Idempotency-Key": key})
            if again.status == 200 and again.data.get("id") == request_id:
                self.stats.count["decisions_idempotent_replays"] += 1
            else:
                self.stats.errors.append(f"Idempotency-Key {key} answered {again.status}, not the same request")

    def decide_some(self, *, everything_due: bool = False) -> None:
        if not self.config.admin_token:
            return
        now = time.monotonic()
        for request_id, info in list(self.open_requests.items()):
            if now - info["at"] < 2 and not everything_due:
                continue
            del self.open_requests[request_id]
            if self.rng.random() > self.config.decide_share:
                self.stats.count["decisions_left_waiting"] += 1
                continue
            # The reviewer decides: a hand-off (escalate, request review) would need a manager or a name.
            closing = [o for o in info["options"] if o.get("closes", True)]
            option = self.rng.choice(closing or [{"value": "reject", "value_label": "", "needs_reason": True}])
            body = {"option": option["value"]}
            if option.get("value_label"):
                body["value"] = self.rng.choice(["jsmith", "Best case", "amber", "dlee"])
            if option.get("needs_reason"):
                body["reason"] = "Checked the record: the rule does not fit this case (simulated reviewer)."
            answer = self.client.call("POST", f"/api/v1/decisions/{request_id}/decide/", self.config.admin_token, body)
            if answer.ok and answer.data.get("status") == "decided":
                self.decided.add(request_id)
                self.stats.count["decisions_decided"] += 1
            elif answer.ok:  # escalate / request review hand it on: still open, no outcome for the CRM yet
                self.stats.count["decisions_handed_off"] += 1
            if self.time_up() and not everything_due:
                return

    # --- the loop ---
    def time_up(self) -> bool:
        return self.stopped or time.monotonic() - self.started >= self.config.duration

    def run_for(self) -> dict:
        self.started = time.monotonic()
        self.window_start = datetime.now(UTC) - timedelta(hours=self.config.backfill_hours)
        self.discover()
        next_decision = time.monotonic() + 1
        next_progress = time.monotonic() + 10
        try:
            while not self.time_up():
                if self.field_change is None and self.real_time():
                    self.go_real_time()
                    self.change_field()
                ran = self.step_runs()
                if time.monotonic() >= next_decision:
                    self.create_decision()
                    next_decision = time.monotonic() + self.config.decision_every
                self.decide_some()
                if time.monotonic() >= next_progress:
                    self.out(self.progress())
                    next_progress = time.monotonic() + 10
                if not ran:
                    time.sleep(0.05)
            self.flush_late()
            self.drain()
        except KeyboardInterrupt:
            self.stopped = True
            self.out("Interrupted: the summary so far.")
        return self.summary()

    def flush_late(self) -> None:
        """The late events still held back arrive now (a CRM catching up)."""
        for system, held in self.late.items():
            self.send(self.config.tokens[system], [event for _, event in held])
            held.clear()

    def drain(self) -> None:
        """Wait a little for the outcomes of what was decided to come back through the webhooks."""
        if not self.receiver or not self.decided:
            return
        deadline = time.monotonic() + self.config.drain
        while time.monotonic() < deadline and not self.decided <= self.receiver.request_ids():
            time.sleep(0.25)

    def progress(self) -> str:
        c = self.stats.count
        hooks = f", webhooks {self.receiver.verified}/{self.receiver.received} verified" if self.receiver else ""
        return (
            f"{time.monotonic() - self.started:5.0f}s: {c['events_sent']} events sent "
            f"({c['events_accepted']} accepted, {c['events_duplicate']} duplicates), permits {dict(self.permits)}, "
            f"decisions {c['decisions_created']} created / {c['decisions_decided']} decided{hooks}, "
            f"{c['http_errors']} HTTP errors"
        )

    def summary(self) -> dict:
        c = self.stats.count
        receiver = self.receiver
        received_ids = receiver.request_ids() if receiver else set()
        return {
            "duration_seconds": round(time.monotonic() - self.started, 1),
            "automations": len(self.played),
            "requests": c["requests"],
            "runs": {
                "reported": c["runs_reported"],
                "sent": c["events_sent"],
                "accepted": c["events_accepted"],
                "duplicates": c["events_duplicate"],
                "duplicates_sent": c["duplicates_sent"],
                "errors": c["events_error"],
                "late": c["events_late"],
                "stale": c["events_stale"],
                "failed": c["events_failed"],
                "single_requests": c["run_requests_single"],
                "batch_requests": c["run_requests_batch"],
                "pings": c["pings"],
                "not_run_blocked": c["runs_not_run_blocked"],
                "shadow_observations": c["shadow_observations"],
            },
            "permits": {mode: self.permits[mode] for mode in ("live", "shadow", "blocked")},
            "field_change": None
            if self.field_change is None
            else {**self.field_change, "at": iso(self.field_change["at"])},
            "decisions": {
                "created": c["decisions_created"],
                "by_kind": {kind: c[f"decisions_{kind}"] for kind in KINDS},
                "idempotent_replays": c["decisions_idempotent_replays"],
                "refused": c["decisions_refused"],
                "decided": c["decisions_decided"],
                "left_waiting": c["decisions_left_waiting"] + len(self.open_requests),
            },
            "webhooks": {
                "listening": receiver.url if receiver else None,
                "received": receiver.received if receiver else 0,
                "verified": receiver.verified if receiver else 0,
                "failed_verification": len(receiver.failed) if receiver else 0,
                "duplicate_deliveries": receiver.duplicates if receiver else 0,
                "decided_with_outcome": len(self.decided & received_ids),
                "decided_without_outcome_yet": len(self.decided - received_ids),
            },
            "by_automation": {
                p.key: {"status": p.status, "style": p.style, "permit": p.mode, "runs_by_permit": dict(p.runs)}
                for p in self.played
            },
            "http_errors": c["http_errors"],
            "http_errors_by_status": {
                k[5:]: v for k, v in sorted(c.items()) if k.startswith("http_") and k != "http_errors"
            },
            "errors": self.stats.errors[:100],
        }


def rng_error(rng: random.Random) -> str:
    return rng.choice(TRANSIENT_ERRORS)


def format_summary(summary: dict) -> str:
    runs, decisions, hooks, permits = summary["runs"], summary["decisions"], summary["webhooks"], summary["permits"]
    lines = [
        "",
        f"CRM simulator summary ({summary['duration_seconds']} s, {summary['automations']} automations, "
        f"{summary['requests']} requests)",
        f"  run events   sent {runs['sent']}, accepted {runs['accepted']}, duplicates recognised {runs['duplicates']} "
        f"(re-sent on purpose {runs['duplicates_sent']}), errors {runs['errors']}",
        f"               failures reported {runs['failed']}, late {runs['late']}, stale data {runs['stale']}, "
        f"single {runs['single_requests']} / batch {runs['batch_requests']} requests, pings {runs['pings']}",
        f"  permits      live {permits['live']}, shadow {permits['shadow']}, blocked {permits['blocked']} "
        f"(runs not run because blocked: {runs['not_run_blocked']}; shadow observations {runs['shadow_observations']})",
    ]
    change = summary["field_change"]
    if change:
        recorded = "recorded through the API" if change["recorded"] else "not recorded in the app (no admin token)"
        lines.append(f"  field change {change['field']} ({recorded}); breaks {change['automation']}")
    lines += [
        f"  decisions    created {decisions['created']} "
        f"({', '.join(f'{k} {v}' for k, v in decisions['by_kind'].items())}), idempotent replays "
        f"{decisions['idempotent_replays']}, refused {decisions['refused']}, decided {decisions['decided']}, "
        f"left waiting {decisions['left_waiting']}",
        f"  webhooks     received {hooks['received']}, verified {hooks['verified']}, failed verification "
        f"{hooks['failed_verification']}, duplicate deliveries {hooks['duplicate_deliveries']}; decided with outcome "
        f"{hooks['decided_with_outcome']}, still waiting {hooks['decided_without_outcome_yet']}",
        f"  HTTP errors  {summary['http_errors']} {summary['http_errors_by_status'] or ''}".rstrip(),
    ]
    lines += [f"    {line}" for line in summary["errors"][:20]]
    if len(summary["errors"]) > 20:
        lines.append(f"    … and {len(summary['errors']) - 20} more")
    return "\n".join(lines)


# --- Running on the server's own database: tokens and webhooks through the services ----------------------
@dataclass
class Provisioned:
    tokens: dict[str, str]
    admin_token: str
    token_ids: list[int]
    admin_username: str


def provision(*, systems: list[str], webhook_url: str, webhook_secret: str, admin_username: str = "") -> Provisioned:
    """An integration per system (`crm-simulator-<system>`, created once) with a fresh token and its
    webhook pointed at the simulator's receiver, and a personal token of a RevOps admin."""
    from django.db.models import Q

    from revops_gov import services
    from revops_gov.models import ApiToken, Integration, User
    from revops_gov.roles import Role

    admins = User.objects.filter(is_active=True).filter(Q(is_superuser=True) | Q(groups__name=Role.ADMIN.label))
    admin = (admins.filter(username=admin_username) if admin_username else admins.order_by("pk")).first()
    if admin is None:
        raise ValueError(f"No active RevOps admin {admin_username!r} to decide and change data fields.")
    tokens, ids = {}, []
    for system in systems:
        name = f"crm-simulator-{system}"
        integration = Integration.objects.filter(name=name).first()
        if integration is None:
            integration, raw = services.integration_create(name=name, system=system, by=admin)
            ids.append(ApiToken.objects.filter(integration=integration).latest("pk").pk)
        else:
            token, raw = services.api_token_create(
                user=integration.service_user, integration=integration, name=f"{name} token", by=admin
            )
            ids.append(token.pk)
        services.integration_webhook_set(integration=integration, url=webhook_url, secret=webhook_secret, by=admin)
        tokens[system] = raw
    token, admin_raw = services.api_token_create(user=admin, name="CRM simulator (decides)", by=admin)
    ids.append(token.pk)
    return Provisioned(tokens=tokens, admin_token=admin_raw, token_ids=ids, admin_username=admin.username)


def unprovision(provisioned: Provisioned) -> None:
    """Revoke the tokens `provision()` made and switch the webhooks off (the receiver is gone; the
    integrations stay, for the next run)."""
    from revops_gov import services
    from revops_gov.models import ApiToken, Integration, User

    by = User.objects.get(username=provisioned.admin_username)
    for token in ApiToken.objects.filter(pk__in=provisioned.token_ids):
        services.api_token_revoke(token=token, by=by)
    for integration in Integration.objects.filter(name__in=[f"crm-simulator-{s}" for s in provisioned.tokens]):
        services.integration_webhook_set(integration=integration, url="", by=by)
