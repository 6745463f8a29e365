"""The failure monitors (the guide's "Failure monitoring"). Each monitor looks at every live or
shadow automation at once, from a handful of set-based queries shared by all of them — never a
query per automation — and returns the automations it fires for, with the reason in words and the
evidence in numbers. `monitors_run()` then brings the findings in line (health.services)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from croniter import croniter
from django.conf import settings
from django.db import connection
from django.db.models import Avg, Count, F, Max, Min, Q, Sum, Window
from django.db.models.expressions import RowRange
from django.utils import timezone

from approvals import selectors as approvals_selectors
from discovery import selectors as discovery_selectors
from discovery.models import FindingKind as DriftKind
from registry.choices import LifecycleStatus, ScheduleKind
from registry.models import Automation, ChangeEvent, Hold

from . import services
from .choices import UNRESOLVED, FindingKind, RunOutcome
from .models import Finding, PlannedHoldWindow, RunEvent
from .services import Hit

MONITORED_STATUSES = (LifecycleStatus.LIVE, LifecycleStatus.SHADOW)
THRESHOLD_NAMES = (
    "expected_duration",
    "max_duration",
    "allowed_staleness",
    "override_rate",
    "override_window_runs",
    "alert_budget_day",
    "alert_budget_week",
    "expected_records_per_run",
    "volume_factor",
    "failure_rate_margin",
)


def reporting_impact_confirmed_ids(automation_ids) -> set[int]:
    """The automations whose readiness checklist confirms "reporting impact known" (approvals)."""
    return approvals_selectors.reporting_impact_confirmed_ids(automation_ids)


def defaults() -> dict:
    return settings.REVOPS["HEALTH_DEFAULTS"]


@dataclass
class Context:
    """Everything the monitors read, loaded once per pass."""

    now: datetime
    automations: dict[int, dict]  # id -> automation row with its effective thresholds
    stats: dict[int, dict]  # id -> windowed run statistics
    held: frozenset = frozenset()  # ids with an open hold (of any source): not expected to run
    # id -> [(starts, ends)] of its planned hold windows (not cancelled), by start
    hold_windows: dict = field(default_factory=dict)
    memo: dict = field(default_factory=dict)  # reads shared by several monitors in one pass

    def threshold(self, automation_id: int, name: str):
        return self.automations[automation_id]["thresholds"][name]


def load_automations() -> dict[int, dict]:
    """Live and shadow automations with their thresholds (own value, else the default): one query."""
    d = defaults()
    rows = Automation.objects.filter(status__in=MONITORED_STATUSES).values(
        "id",
        "key",
        "name",
        "failure_owner_id",
        "system_owner_id",
        "rule_owner_id",
        "schedule_kind",
        "schedule_interval",
        "schedule_cron",
        "schedule_grace",
        "created_at",
        *(f"health_thresholds__{n}" for n in THRESHOLD_NAMES),
    )
    out = {}
    for row in rows:
        thresholds = {}
        for name in THRESHOLD_NAMES:
            value = row.pop(f"health_thresholds__{name}")
            thresholds[name] = value if value is not None else d.get(name)
        row["thresholds"] = thresholds
        out[row["id"]] = row
    return out


def load_stats(now: datetime) -> dict[int, dict]:
    """Per automation, one GROUP BY over the runs of the baseline + recent windows."""
    d = defaults()
    recent = now - timedelta(days=d["recent_days"])
    start = recent - timedelta(days=d["baseline_days"])
    day, week = now - timedelta(days=1), now - timedelta(days=7)
    finished = Q(outcome__in=(RunOutcome.SUCCESS, RunOutcome.FAILURE))
    failed = Q(outcome=RunOutcome.FAILURE)
    in_recent, in_base = Q(started_at__gte=recent), Q(started_at__lt=recent)
    rows = (
        RunEvent.objects.filter(started_at__gte=start)
        .order_by()
        .values("automation_id")
        .annotate(
            last_run=Max("started_at"),
            last_success=Max("started_at", filter=Q(outcome=RunOutcome.SUCCESS)),
            runs_recent=Count("id", filter=in_recent & finished),
            failures_recent=Count("id", filter=in_recent & failed),
            runs_base=Count("id", filter=in_base & finished),
            failures_base=Count("id", filter=in_base & failed),
            records_max_recent=Max("records_affected", filter=in_recent),
            records_avg_base=Avg("records_affected", filter=in_base),
            critical_recent=Count("id", filter=in_recent & Q(reporting_critical_changed=True)),
            alerts_day=Sum("alerts_sent", filter=Q(started_at__gte=day)),
            alerts_week=Sum("alerts_sent", filter=Q(started_at__gte=week)),
            worst_staleness=Max("staleness_seconds", filter=Q(started_at__gte=day)),
        )
    )
    return {row["automation_id"]: row for row in rows}


def load_hold_windows(now: datetime, automations) -> dict[int, list[tuple[datetime, datetime]]]:
    """The planned hold windows that may matter to did-not-run now: begun, not cancelled, and
    not ended before the oldest run the monitors read. One query."""
    d = defaults()
    oldest = now - timedelta(days=d["recent_days"] + d["baseline_days"])
    rows = (
        PlannedHoldWindow.objects.filter(
            cancelled_at__isnull=True, starts_at__lte=now, ends_at__gte=oldest, automation_id__in=list(automations)
        )
        .order_by("automation_id", "starts_at")
        .values_list("automation_id", "starts_at", "ends_at")
    )
    windows: dict[int, list] = {}
    for aid, starts, ends in rows:
        windows.setdefault(aid, []).append((starts, ends))
    return windows


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:.0f} h" if hours >= 2 else f"{seconds / 60:.0f} min"


# --- The monitors ----------------------------------------------------------------------------
def in_hold_window(windows, moment: datetime) -> bool:
    """The moment is inside one of the automation's planned hold windows."""
    return any(start <= moment < end for start, end in windows)


def expected_run(next_after, since: datetime, windows) -> datetime:
    """When the next run is expected after `since`, the planned hold windows taken into account
    (issue 16 §1): a run expected inside a window is not missed; the clock restarts at the
    window's end. `next_after(moment)` gives the schedule's next run after a moment."""
    expected = next_after(since)
    for start, end in windows:  # by start: a run moved past one window may fall in the next
        if start <= expected < end:
            expected = next_after(end)
    return expected


def did_not_run(ctx: Context) -> tuple[set[int], list[Hit]]:
    """No run within the expected schedule + grace. Before any run in the windows we look at, the
    clock starts at the later of its registration and the start of those windows. Inside a
    planned hold window the automation is not watched; after one, its clock restarts at the end."""
    d = defaults()
    window_start = ctx.now - timedelta(days=d["recent_days"] + d["baseline_days"])
    checked, hits = set(), []
    for aid, a in ctx.automations.items():
        if aid in ctx.held:
            continue  # a held automation is expected not to run (issue 16 §1)
        windows = ctx.hold_windows.get(aid, ())
        if in_hold_window(windows, ctx.now):
            continue  # a planned hold: nobody expects it to run now
        kind = a["schedule_kind"]
        if kind == ScheduleKind.NONE or (kind == ScheduleKind.INTERVAL and not a["schedule_interval"]):
            continue
        checked.add(aid)
        last = (ctx.stats.get(aid) or {}).get("last_run")
        since = last or max(a["created_at"], window_start)
        if kind == ScheduleKind.INTERVAL:
            interval = a["schedule_interval"]
            expected = expected_run(lambda moment, interval=interval: moment + interval, since, windows)
            schedule = f"every {interval}"
        else:
            cron = a["schedule_cron"]
            try:
                expected = expected_run(
                    lambda moment, cron=cron: croniter(cron, moment).get_next(datetime), since, windows
                )
            except (ValueError, KeyError):
                continue
            schedule = f"cron “{cron}”"
        late_after = expected + a["schedule_grace"]
        if ctx.now > late_after:
            seen = f"last run {last:%Y-%m-%d %H:%M} UTC" if last else "no run reported yet"
            hits.append(
                Hit(
                    aid,
                    FindingKind.DID_NOT_RUN,
                    f"Expected a run by {expected:%Y-%m-%d %H:%M} UTC ({schedule}, grace {a['schedule_grace']}); "
                    f"{seen}.",
                    {
                        "last_run": last.isoformat() if last else None,
                        "expected_by": expected.isoformat(),
                    },
                )
            )
    return checked, hits


def ran_twice(ctx: Context) -> tuple[set[int], list[Hit]]:
    """Two runs for one trigger window, or a run that started before an earlier one ended, in
    the last day. Two queries for every automation."""
    since = ctx.now - timedelta(days=1)
    ids = set(ctx.automations)
    doubles: dict[int, dict] = {}
    for row in (
        RunEvent.objects.filter(started_at__gte=since)
        .exclude(trigger_key="")
        .order_by()
        .values("automation_id", "trigger_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    ):
        entry = doubles.setdefault(row["automation_id"], {"same_trigger": {}, "overlapping": []})
        entry["same_trigger"][row["trigger_key"]] = row["n"]
    overlaps = (
        RunEvent.objects.filter(started_at__gte=since, finished_at__isnull=False)
        .annotate(
            previous_end=Window(
                Max("finished_at"),
                partition_by=[F("automation_id")],
                order_by=[F("started_at").asc(), F("id").asc()],
                frame=RowRange(start=None, end=-1),
            )
        )
        .filter(previous_end__gt=F("started_at"))
        .values_list("automation_id", "event_id")
    )
    for automation_id, event_id in overlaps:
        doubles.setdefault(automation_id, {"same_trigger": {}, "overlapping": []})["overlapping"].append(event_id)
    hits = []
    for aid, entry in doubles.items():
        if aid not in ids:
            continue
        parts = []
        if entry["same_trigger"]:
            n = sum(entry["same_trigger"].values())
            parts.append(f"{n} runs for {len(entry['same_trigger'])} trigger window(s) that should each run once")
        if entry["overlapping"]:
            parts.append(f"{len(entry['overlapping'])} run(s) started before the previous one finished")
        hits.append(
            Hit(
                aid,
                FindingKind.RAN_TWICE,
                "In the last 24 h: " + "; ".join(parts) + ".",
                {"same_trigger": entry["same_trigger"], "overlapping_event_ids": entry["overlapping"][:20]},
            )
        )
    return ids, hits


def running_too_long(ctx: Context) -> tuple[set[int], list[Hit]]:
    """A start with no end, older than the expected duration."""
    d = defaults()
    since = ctx.now - timedelta(days=d["recent_days"] + d["baseline_days"])
    hits = []
    rows = (
        RunEvent.objects.filter(outcome=RunOutcome.RUNNING, started_at__gte=since)
        .order_by()
        .values("automation_id")
        .annotate(oldest=Min("started_at"), n=Count("id"))
    )
    for row in rows:
        aid = row["automation_id"]
        if aid not in ctx.automations:
            continue
        limit = ctx.threshold(aid, "expected_duration")
        age = ctx.now - row["oldest"]
        if age > limit:
            hits.append(
                Hit(
                    aid,
                    FindingKind.RUNNING_TOO_LONG,
                    f"A run started {row['oldest']:%Y-%m-%d %H:%M} UTC has not ended after "
                    f"{_hours(age.total_seconds())} "
                    f"(expected at most {_hours(limit.total_seconds())}); {row['n']} run(s) still open.",
                    {
                        "oldest_start": row["oldest"].isoformat(),
                        "open_runs": row["n"],
                        "expected_seconds": int(limit.total_seconds()),
                    },
                )
            )
    return set(ctx.automations), hits


def timed_out(ctx: Context) -> tuple[set[int], list[Hit]]:
    """Runs that never ended within the maximum duration, started in the last `recent_days`
    (health.services.runs_time_out marks them at the start of every pass). One query."""
    d = defaults()
    since = ctx.now - timedelta(days=d["recent_days"])
    rows = (
        RunEvent.objects.filter(outcome=RunOutcome.TIMED_OUT, started_at__gte=since)
        .order_by()
        .values("automation_id")
        .annotate(n=Count("id"), latest=Max("started_at"))
    )
    hits = []
    for row in rows:
        aid = row["automation_id"]
        if aid not in ctx.automations:
            continue
        limit = ctx.threshold(aid, "max_duration")
        hits.append(
            Hit(
                aid,
                FindingKind.TIMED_OUT,
                f"{row['n']} run(s) started in the last {d['recent_days']} days never ended within "
                f"{_hours(limit.total_seconds())} and timed out; "
                f"the latest started {row['latest']:%Y-%m-%d %H:%M} UTC.",
                {"timed_out_runs": row["n"], "latest_start": row["latest"].isoformat(),
                 "max_seconds": int(limit.total_seconds())},
            )
        )  # fmt: skip
    return set(ctx.automations), hits


def stale_data(ctx: Context) -> tuple[set[int], list[Hit]]:
    """A run in the last day worked on data older than the allowed staleness."""
    hits = []
    for aid, s in ctx.stats.items():
        if aid not in ctx.automations or s["worst_staleness"] is None:
            continue
        allowed = ctx.threshold(aid, "allowed_staleness").total_seconds()
        if s["worst_staleness"] > allowed:
            hits.append(
                Hit(
                    aid,
                    FindingKind.STALE_DATA,
                    f"A run in the last 24 h used data {_hours(s['worst_staleness'])} old; "
                    f"at most {_hours(allowed)} is allowed.",
                    {"worst_staleness_seconds": s["worst_staleness"], "allowed_seconds": int(allowed)},
                )
            )
    return set(ctx.automations), hits


WRONG_OWNER_SQL = """
SELECT r.automation_id, COUNT(*) AS runs,
       SUM(CASE WHEN r.overridden OR r.manual_reassignment THEN 1 ELSE 0 END) AS wrong
FROM (
    SELECT automation_id, overridden, manual_reassignment,
           ROW_NUMBER() OVER (PARTITION BY automation_id ORDER BY started_at DESC) AS rn
    FROM health_runevent
    WHERE started_at >= %s AND outcome IN ('success', 'failure')
) r
LEFT JOIN health_healththresholds t ON t.automation_id = r.automation_id
WHERE r.rn <= COALESCE(t.override_window_runs, %s)
GROUP BY r.automation_id
"""


def wrong_owner(ctx: Context) -> tuple[set[int], list[Hit]]:
    """Reassignment or override rate over the threshold in the automation's last N runs (N per
    automation, joined in SQL; one window-function query)."""
    d = defaults()
    since = ctx.now - timedelta(days=d["recent_days"] + d["baseline_days"])
    with connection.cursor() as cursor:
        cursor.execute(WRONG_OWNER_SQL, [connection.ops.adapt_datetimefield_value(since), d["override_window_runs"]])
        rows = cursor.fetchall()
    hits = []
    for aid, runs, wrong in rows:
        if aid not in ctx.automations or runs < d["min_runs"]:
            continue
        rate, limit = wrong / runs, ctx.threshold(aid, "override_rate")
        if rate > limit:
            hits.append(
                Hit(
                    aid,
                    FindingKind.WRONG_OWNER,
                    f"{wrong} of its last {runs} runs were overridden or reassigned by hand "
                    f"({rate:.0%}; threshold {limit:.0%}): "
                    "people may be revealing a bad rule.",
                    {"runs": runs, "overridden_or_reassigned": wrong, "rate": round(rate, 4), "threshold": limit},
                )
            )
    return set(ctx.automations), hits


def too_many_alerts(ctx: Context) -> tuple[set[int], list[Hit]]:
    hits = []
    for aid, s in ctx.stats.items():
        if aid not in ctx.automations:
            continue
        day, week = s["alerts_day"] or 0, s["alerts_week"] or 0
        budget_day, budget_week = ctx.threshold(aid, "alert_budget_day"), ctx.threshold(aid, "alert_budget_week")
        over = []
        if day > budget_day:
            over.append(f"{day} alerts in the last 24 h (budget {budget_day})")
        if week > budget_week:
            over.append(f"{week} in the last 7 days (budget {budget_week})")
        if over:
            hits.append(
                Hit(
                    aid,
                    FindingKind.TOO_MANY_ALERTS,
                    "It sent " + " and ".join(over) + ": alerts nobody can act on become noise.",
                    {"alerts_day": day, "alerts_week": week, "budget_day": budget_day, "budget_week": budget_week},
                )
            )
    return set(ctx.automations), hits


def broke_after_change(ctx: Context) -> tuple[set[int], list[Hit]]:
    """Failures rising after a change event or a data-field change linked to the automation: the
    failure rate since the change is above the rate in the same span before it by the margin, with
    at least three failures. Reads only the runs of automations changed recently (three queries)."""
    d = defaults()
    lookback = timedelta(days=d["change_lookback_days"])
    since = ctx.now - lookback
    changes: dict[int, tuple[datetime, str, str]] = {}

    def keep(aid, when, label, link):
        if aid in ctx.automations and (aid not in changes or when > changes[aid][0]):
            changes[aid] = (when, label, link)

    through = ChangeEvent.automations.through
    for aid, occurred_on, recorded_at, title, pk in through.objects.filter(
        changeevent__recorded_at__gte=since
    ).values_list(
        "automation_id", "changeevent__occurred_on", "changeevent__recorded_at", "changeevent__title", "changeevent_id"
    ):
        when = min(recorded_at, timezone.make_aware(datetime.combine(occurred_on, datetime.min.time())))
        keep(aid, when, f"change “{title}”", f"/change-events/{pk}/")
    field_through = Automation.data_fields.through
    for aid, changed_at, obj, api, pk in field_through.objects.filter(datafield__changed_at__gte=since).values_list(
        "automation_id", "datafield__changed_at", "datafield__object_name", "datafield__api_name", "datafield_id"
    ):
        keep(aid, changed_at, f"field change {obj}.{api}", f"/data-fields/{pk}/")
    # A field deleted or changed in type in the CRM, as the latest metadata import shows it
    # (discovery): learnt without a change event (issue 17).
    for aid, when, label, link in discovery_selectors.recent_field_breaks(since=since):
        keep(aid, when, label, link)
    if not changes:
        return set(ctx.automations), []
    earliest = min(when for when, _, _ in changes.values())
    counts = {aid: [0, 0, 0, 0] for aid in changes}  # runs before, failures before, runs after, failures after
    for aid, started_at, outcome in (
        RunEvent.objects.filter(
            automation_id__in=list(changes),
            started_at__gte=earliest - lookback,
            outcome__in=(RunOutcome.SUCCESS, RunOutcome.FAILURE),
        )
        .values_list("automation_id", "started_at", "outcome")
        .order_by()
    ):
        when = changes[aid][0]
        if started_at < when - lookback:
            continue
        offset = 2 if started_at >= when else 0
        counts[aid][offset] += 1
        counts[aid][offset + 1] += outcome == RunOutcome.FAILURE
    hits = []
    for aid, (runs_b, fails_b, runs_a, fails_a) in counts.items():
        if fails_a < 3 or not runs_a:
            continue
        rate_a, rate_b = fails_a / runs_a, (fails_b / runs_b if runs_b else 0.0)
        margin = ctx.threshold(aid, "failure_rate_margin")
        if rate_a >= rate_b + margin:
            when, label, link = changes[aid]
            hits.append(
                Hit(
                    aid,
                    FindingKind.BROKE_AFTER_CHANGE,
                    f"Broke after {label} on {when:%Y-%m-%d}: {fails_a} of {runs_a} runs failed since ({rate_a:.0%}), "
                    f"against {rate_b:.0%} before.",
                    {
                        "change": label,
                        "changed_at": when.isoformat(),
                        "runs_after": runs_a,
                        "failures_after": fails_a,
                        "runs_before": runs_b,
                        "failures_before": fails_b,
                    },
                    links=({"label": label, "url": link},),
                )
            )
    return set(ctx.automations), hits


def reporting_side_effects(ctx: Context) -> tuple[set[int], list[Hit]]:
    """Records changed far beyond the expected volume (own setting, else the baseline average),
    or reporting-critical fields changed while reporting impact is not confirmed."""
    d = defaults()
    confirmed = reporting_impact_confirmed_ids(list(ctx.automations))
    hits = []
    for aid, s in ctx.stats.items():
        if aid not in ctx.automations:
            continue
        parts, evidence = [], {}
        expected = ctx.threshold(aid, "expected_records_per_run") or s["records_avg_base"]
        factor = ctx.threshold(aid, "volume_factor")
        peak = s["records_max_recent"]
        if expected and peak is not None and peak > factor * expected:
            parts.append(f"one run changed {peak} records, over {factor:g}× the expected {expected:.0f} per run")
            evidence |= {"records_max": peak, "expected_per_run": round(float(expected), 1), "factor": factor}
        if s["critical_recent"] and aid not in confirmed:
            parts.append(
                f"{s['critical_recent']} run(s) changed reporting-critical fields "
                "while its reporting impact is not confirmed"
            )
            evidence["runs_changing_reporting_critical_fields"] = s["critical_recent"]
        if parts:
            hits.append(
                Hit(
                    aid,
                    FindingKind.REPORTING_SIDE_EFFECTS,
                    f"In the last {d['recent_days']} days " + "; ".join(parts) + ".",
                    evidence,
                )
            )
    return set(ctx.automations), hits


def failure_rate_up(ctx: Context) -> tuple[set[int], list[Hit]]:
    d = defaults()
    hits = []
    for aid, s in ctx.stats.items():
        if aid not in ctx.automations or s["runs_recent"] < d["min_runs"]:
            continue
        rate = s["failures_recent"] / s["runs_recent"]
        base = s["failures_base"] / s["runs_base"] if s["runs_base"] else 0.0
        margin = ctx.threshold(aid, "failure_rate_margin")
        if rate > base + margin:
            hits.append(
                Hit(
                    aid,
                    FindingKind.FAILURE_RATE_UP,
                    f"{s['failures_recent']} of {s['runs_recent']} runs failed in the last {d['recent_days']} days "
                    f"({rate:.0%}), against a baseline of {base:.0%} over the {d['baseline_days']} days before "
                    f"(margin {margin:.0%}).",
                    {
                        "runs": s["runs_recent"],
                        "failures": s["failures_recent"],
                        "rate": round(rate, 4),
                        "baseline_rate": round(base, 4),
                        "margin": margin,
                    },
                )
            )
    return set(ctx.automations), hits


SAME_FAILURES = (FindingKind.BROKE_AFTER_CHANGE, FindingKind.FAILURE_RATE_UP)


def one_failure_finding(hits: list[Hit], checked: dict[str, set[int]]) -> list[Hit]:
    """`broke_after_change` and `failure_rate_up` read the same failed runs: when both fire for
    one automation they are one finding (one email), not two (issue 16 §1). The finding already
    unresolved of either kind absorbs the other (else "broke after change", the more specific);
    the other's reason and numbers are added to it, and its monitor leaves that automation alone."""
    by_key = {(h.automation_id, h.kind): h for h in hits}
    both = {aid for aid, kind in by_key if kind == SAME_FAILURES[0] and (aid, SAME_FAILURES[1]) in by_key}
    if not both:
        return hits
    existing = set(
        Finding.objects.filter(status__in=UNRESOLVED, automation_id__in=both, kind__in=SAME_FAILURES).values_list(
            "automation_id", "kind"
        )
    )
    drop = set()
    for aid in both:
        keep_kind, other_kind = SAME_FAILURES
        if (aid, other_kind) in existing and (aid, keep_kind) not in existing:
            keep_kind, other_kind = other_kind, keep_kind
        keep, other = by_key[(aid, keep_kind)], by_key[(aid, other_kind)]
        by_key[(aid, keep_kind)] = Hit(
            aid,
            keep.kind,
            f"{keep.reason} {other.reason}",
            {**keep.evidence, str(other.kind): other.evidence},
            severity=keep.severity,
            links=keep.links + other.links,
        )
        drop.add((aid, other_kind))
        checked[str(other_kind)] = checked.get(str(other_kind), set()) - {aid}
    return [by_key[(h.automation_id, h.kind)] for h in hits if (h.automation_id, h.kind) not in drop]


# --- CRM drift: what a metadata import found (discovery's rules, health's findings and holds) ---
DRIFT_KINDS = {
    DriftKind.DEFINITION_CHANGED: FindingKind.CRM_CHANGED,
    DriftKind.ACTIVE_WHILE_PAUSED: FindingKind.CRM_ACTIVE_WHILE_PAUSED,
    DriftKind.INACTIVE_WHILE_LIVE: FindingKind.CRM_INACTIVE_WHILE_LIVE,
    DriftKind.COLLISION: FindingKind.CRM_COLLISION,
}


def _drift(ctx: Context) -> tuple[set[int], dict[str, list[Hit]]]:
    """discovery.selectors.current_drift() once per pass, as hits by kind: an automation's
    several drifts of one kind (collisions with two others) are one finding. Looks at every
    registry automation linked to a CRM automation of a system that has been imported, whatever
    its status (a paused one active in the CRM is the point)."""
    if "drift" in ctx.memo:
        return ctx.memo["drift"]
    snapshots = discovery_selectors.latest_snapshots()
    checked = set(
        Automation.objects.filter(system__in=[s.system for s in snapshots])
        .exclude(external_id="")
        .values_list("pk", flat=True)
    )
    grouped: dict[tuple[int, str], list] = {}
    for item in discovery_selectors.current_drift():
        grouped.setdefault((item.automation.pk, DRIFT_KINDS[item.kind]), []).append(item)
    hits: dict[str, list[Hit]] = {kind: [] for kind in DRIFT_KINDS.values()}
    for (aid, kind), items in sorted(grouped.items()):
        first = items[0]
        severity = ""
        if kind == FindingKind.CRM_CHANGED:
            severity = "high" if first.high_tier else "medium"
        hits[kind].append(
            Hit(
                aid,
                kind,
                " ".join(item.message for item in items),
                {
                    "external_id": first.external_id,
                    "snapshot": first.snapshot.pk,
                    "evidence": [item.evidence for item in items],
                },
                severity=severity,
                links=({"label": f"Metadata snapshot #{first.snapshot.pk}", "url": first.snapshot.get_absolute_url()},),
            )
        )
    ctx.memo["drift"] = (checked, hits)
    return ctx.memo["drift"]


def _drift_monitor(kind: str):
    def monitor(ctx: Context) -> tuple[set[int], list[Hit]]:
        checked, hits = _drift(ctx)
        return checked, hits[kind]

    monitor.__name__ = monitor.__qualname__ = kind
    monitor.__doc__ = f"“{FindingKind(kind).label}”, from discovery.selectors.drift()."
    return monitor


MONITORS = {
    FindingKind.DID_NOT_RUN: did_not_run,
    FindingKind.RAN_TWICE: ran_twice,
    FindingKind.RUNNING_TOO_LONG: running_too_long,
    FindingKind.TIMED_OUT: timed_out,
    FindingKind.STALE_DATA: stale_data,
    FindingKind.WRONG_OWNER: wrong_owner,
    FindingKind.TOO_MANY_ALERTS: too_many_alerts,
    FindingKind.BROKE_AFTER_CHANGE: broke_after_change,
    FindingKind.REPORTING_SIDE_EFFECTS: reporting_side_effects,
    FindingKind.FAILURE_RATE_UP: failure_rate_up,
    **{kind: _drift_monitor(kind) for kind in DRIFT_KINDS.values()},
}


def monitors_run(*, now: datetime | None = None) -> dict:
    """One pass of every monitor over every live or shadow automation, then the findings synced
    in bulk. An automation no longer monitored (paused, retired) has its findings resolved."""
    now = now or timezone.now()
    services.runs_time_out(now=now)
    automations = load_automations()
    held = frozenset(
        Hold.objects.filter(released_at__isnull=True, automation_id__in=list(automations)).values_list(
            "automation_id", flat=True
        )
    )
    ctx = Context(
        now=now,
        automations=automations,
        stats=load_stats(now),
        held=held,
        hold_windows=load_hold_windows(now, automations),
    )
    hits, checked = [], {}
    for kind, monitor in MONITORS.items():
        kind_checked, kind_hits = monitor(ctx)
        checked[kind.value] = kind_checked
        hits.extend(kind_hits)
    hits = one_failure_finding(hits, checked)
    # Findings of automations that left live/shadow resolve too (nobody expects them to run) —
    # except incidents: pausing fixes nothing, so they and their holds stay (issue 16 §1).
    gone = set(
        Finding.objects.filter(status__in=UNRESOLVED)
        .exclude(automation_id__in=list(automations))
        .values_list("automation_id", flat=True)
    )
    for kind in checked:
        checked[kind] = checked[kind] | gone
    # Every finding has an owner where the automation names one: failure, else system, else rule
    # owner (health.alerts.finding_recipients falls back to the admins).
    owners = {
        aid: a["failure_owner_id"] or a["system_owner_id"] or a["rule_owner_id"] for aid, a in automations.items()
    }
    others = {hit.automation_id for hit in hits} - set(owners)  # CRM drift of approved/paused ones
    for aid, failure, system, rule in Automation.objects.filter(pk__in=others).values_list(
        "pk", "failure_owner_id", "system_owner_id", "rule_owner_id"
    ):
        owners[aid] = failure or system or rule
    return services.findings_sync(hits=hits, checked=checked, owners=owners, now=now)
