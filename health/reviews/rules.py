"""The review's derived facts, in one place: the recommendation with the reasons that produced it
(one rule per reason of the guide's "What to retire", its practical standard, and noise), and the
review questions answered from the data. Pure functions of `ReviewInput`: no database."""

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings

from registry.choices import MATURITY_BEHAVIOUR, MaturityStage

from .choices import Recommendation

R = Recommendation
# The strongest action wins; every reason is kept, so the admin sees all of them.
STRENGTH = {R.KEEP: 0, R.ADJUST: 1, R.PAUSE: 2, R.RETIRE: 3}


@dataclass
class ReviewInput:
    """One automation's month: the counts from run events, decision requests and findings, and
    what the registry says about it."""

    month_label: str = ""
    status: str = "live"
    runs: int = 0
    failures: int = 0
    bad_data_failures: int = 0
    overrides: int = 0
    decision_requests: int = 0
    decisions_made: int = 0
    alerts_sent: int = 0
    alerts_ignored: int = 0
    tasks_created: int = 0
    tasks_completed: int = 0
    manual_corrections: int = 0
    exceptions: int = 0
    findings_opened: int = 0
    duplicate_runs: int = 0
    sla_measured: int = 0
    sla_met: int = 0
    avg_response_seconds: int | None = None
    handoffs_measured: int = 0
    handoffs_complete: int = 0
    maintenance_minutes: int = 0
    duplicates_found: int = 0
    data_quality_issues: int = 0
    # Registry facts
    rule_owner: str = ""
    failure_owner: str = ""
    rule_written: bool = True
    output_written: bool = True
    purpose_written: bool = True
    unstable_fields: list[str] = field(default_factory=list)
    deprecated_fields: list[str] = field(default_factory=list)
    change_events: list[str] = field(default_factory=list)
    duplicates_with: list[str] = field(default_factory=list)
    maturity_stage: int | None = None
    went_live_on: str = ""  # YYYY-MM-DD

    @property
    def alerts_total(self) -> int:
        """Alerts to people: the alerts runs sent, and the decision requests opened."""
        return self.alerts_sent + self.decision_requests

    @property
    def actions_taken(self) -> int:
        """What the alerts led to: decisions made and tasks completed."""
        return self.decisions_made + self.tasks_completed

    @property
    def completed_actions(self) -> int:
        """Runs that did their job without cleanup."""
        return max(self.runs - self.failures - self.manual_corrections - self.exceptions, 0)

    @property
    def cleanup(self) -> int:
        return self.failures + self.manual_corrections + self.exceptions

    def rate(self, part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def failure_rate(self):
        return self.rate(self.failures, self.runs)

    @property
    def override_rate(self):
        return self.rate(self.overrides, self.runs + self.decisions_made)

    @property
    def ignored_rate(self):
        return self.rate(self.alerts_ignored, self.alerts_total)


# What a review row keeps of its input: the counts as columns, the registry facts as JSON.
COUNT_FIELDS = (
    "runs", "failures", "overrides", "decision_requests", "decisions_made", "alerts_sent", "alerts_ignored",
    "tasks_created", "tasks_completed", "manual_corrections", "exceptions", "findings_opened", "duplicate_runs",
    "avg_response_seconds", "sla_measured", "sla_met", "duplicates_found", "handoffs_measured", "handoffs_complete",
    "data_quality_issues", "maintenance_minutes", "bad_data_failures",
)  # fmt: skip
FACT_FIELDS = (
    "rule_owner", "failure_owner", "rule_written", "output_written", "purpose_written", "unstable_fields",
    "deprecated_fields", "change_events", "duplicates_with", "maturity_stage", "went_live_on",
)  # fmt: skip
# The facts that are lists: only the automations that have one are decided by `recommend` itself
# (the database decides the others with `verdict_sql`).
LIST_FACTS = ("unstable_fields", "deprecated_fields", "change_events", "duplicates_with")
# Facts stored as true/false that SQLite's JSON gives back as 1 and 0.
FLAG_FACTS = ("rule_written", "output_written", "purpose_written")


def review_input(*, counts: dict, facts: dict, status: str, month_label: str = "") -> ReviewInput:
    """A row's counts and facts (as stored, or as just re-computed) as the rules read them."""
    known = {name: facts[name] for name in FACT_FIELDS if name in facts}
    for name in FLAG_FACTS:
        if name in known:
            known[name] = bool(known[name])
    return ReviewInput(month_label=month_label, status=status, **{n: counts[n] for n in COUNT_FIELDS}, **known)


@dataclass(frozen=True)
class Reason:
    rule: str
    action: str
    text: str

    def as_dict(self) -> dict:
        return {"rule": self.rule, "action": str(self.action), "text": self.text}


@dataclass
class Verdict:
    recommendation: str
    reasons: list[Reason]
    noisy: bool


def thresholds() -> dict:
    return settings.REVOPS["HEALTH_REVIEW"]


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def recommend(data: ReviewInput, limits: dict | None = None) -> Verdict:
    """Keep, adjust, pause or retire, with every reason that produced it."""
    t = thresholds() | (limits or {})
    reasons: list[Reason] = []
    month = data.month_label or "the month"

    # The guide's practical standard: a clear owner, a current rule, a visible output, a reason to exist.
    missing = []
    if not (data.rule_owner and data.failure_owner):
        missing.append("a clear owner (" + ("no failure owner" if data.rule_owner else "no rule owner") + ")")
    if not data.rule_written:
        missing.append("a current rule (trigger and rule not written)")
    if not data.output_written:
        missing.append("a visible output (who receives it, what they do, or which record it changes is not written)")
    if not data.purpose_written:
        missing.append("a reason to exist (no business purpose written)")
    if missing:
        reasons.append(
            Reason(
                "practical_standard",
                R.PAUSE,
                "The team cannot explain " + "; ".join(missing) + ": pause until someone can explain it.",
            )
        )

    judgeable = data.runs >= t["min_runs"]
    if data.runs == 0 and data.status != "paused":
        reasons.append(
            Reason(
                "not_used",
                R.RETIRE,
                f"No runs in {month}: the workflow it supports is no longer used.",
            )
        )
    ignored = data.ignored_rate
    if data.alerts_total >= t["noisy_min_alerts"] and ignored is not None and ignored >= t["ignored_share"]:
        reasons.append(
            Reason(
                "alerts_ignored",
                R.RETIRE,
                f"No one acts on its alerts: {data.alerts_ignored} of {data.alerts_total} ({_pct(ignored)}) had no "
                f"action taken (bar {t['ignored_share']:.0%}).",
            )
        )
    # "If automation adds more alerts than decisions, it is not doing its job": more alerts than
    # noisy_ratio × the decisions and completed tasks they led to (1.0 is the guide taken literally).
    noisy = data.alerts_total >= t["noisy_min_alerts"] and data.alerts_total > t["noisy_ratio"] * data.actions_taken
    if noisy:
        reasons.append(
            Reason(
                "noisy",
                R.ADJUST,
                f"Noisy: {data.alerts_total} alerts led to {data.actions_taken} decisions or completed tasks "
                f"(more than {t['noisy_ratio']:g} alerts per action); remove the alerts that lead to nothing.",
            )
        )
    if data.duplicates_with and data.runs and data.duplicate_runs / data.runs >= t["duplicate_share"]:
        reasons.append(
            Reason(
                "duplicates",
                R.RETIRE,
                f"Duplicates another workflow: {data.duplicate_runs} of {data.runs} runs acted on a trigger "
                f"{', '.join(data.duplicates_with)} also acted on.",
            )
        )
    if data.deprecated_fields:
        reasons.append(
            Reason(
                "deprecated_fields",
                R.RETIRE,
                f"Built on deprecated fields: {', '.join(data.deprecated_fields)} — retire it or redesign "
                "it on the current fields.",
            )
        )
    if data.change_events:
        reasons.append(
            Reason(
                "business_changed",
                R.ADJUST,
                f"The business changed around it: {'; '.join(data.change_events)} — update the rule.",
            )
        )
    if data.unstable_fields:
        reasons.append(
            Reason("unstable_fields", R.ADJUST, f"Uses fields not trusted: {', '.join(data.unstable_fields)}.")
        )
    if judgeable and data.cleanup > data.completed_actions:
        reasons.append(
            Reason(
                "more_cleanup_than_value",
                R.RETIRE,
                f"Creates more cleanup than value: {data.cleanup} failures, manual corrections and exceptions "
                f"against {data.completed_actions} clean runs.",
            )
        )
    elif data.maintenance_minutes >= t["maintenance_minutes"]:
        reasons.append(
            Reason(
                "admin_cleanup",
                R.ADJUST,
                f"{data.maintenance_minutes} minutes of admin maintenance in {month} (bar {t['maintenance_minutes']}): "
                "it may save rep time but it creates admin cleanup.",
            )
        )
    override = data.override_rate
    if judgeable and override is not None and override >= t["override_rate"]:
        reasons.append(
            Reason(
                "overridden",
                R.ADJUST,
                f"Users routinely override it: {data.overrides} overrides, {_pct(override)} "
                f"(bar {t['override_rate']:.0%}); fix the rule or its source data.",
            )
        )
    failure = data.failure_rate
    if judgeable and failure is not None and failure >= t["failure_rate"]:
        reasons.append(
            Reason(
                "failing",
                R.ADJUST,
                f"{data.failures} of {data.runs} runs failed ({_pct(failure)}, bar {t['failure_rate']:.0%}).",
            )
        )
    if not reasons:
        reasons.append(
            Reason(
                "healthy",
                R.KEEP,
                f"Healthy: {data.runs} runs, failure rate {_pct(failure)}, override rate {_pct(override)}, "
                f"alerts ignored {_pct(ignored)}; it has an owner, a current rule, a visible output and a purpose.",
            )
        )
    # Strongest first (stable), so the first reason is one that produced the recommendation.
    reasons.sort(key=lambda r: -STRENGTH[r.action])  # actions are Recommendation members (str)
    return Verdict(recommendation=str(reasons[0].action), reasons=reasons, noisy=noisy)


def verdict_sql(limits: dict | None = None) -> tuple[tuple[str, list], tuple[str, list]]:
    """`recommend`'s recommendation and noise as SQL over a row source with the ReviewInput's count
    columns and four booleans (owned, rule_written, output_written, purpose_written): what the
    database decides for ten thousand automations in the statement that writes their rows. The
    rules that read list facts (duplicates, deprecated and unstable fields, change events) are not
    here: an automation with such a fact is decided by `recommend`. Rates are compared as doubles,
    as Python does. The row source is named `c`. Returns the recommendation and the noise, each as
    (SQL, its parameters); tests/health/reviews/test_rules.py holds the two forms to the same answers."""
    t = thresholds() | (limits or {})
    c = "c"
    dbl = "CAST({} AS DOUBLE PRECISION)".format
    alerts = f"({c}.alerts_sent + {c}.decision_requests)"
    actions = f"({c}.decisions_made + {c}.tasks_completed)"
    cleanup = f"({c}.failures + {c}.manual_corrections + {c}.exceptions)"
    clean_runs = f"(CASE WHEN {c}.runs > {cleanup} THEN {c}.runs - {cleanup} ELSE 0 END)"

    def rate_at_least(part: str, whole: str) -> str:  # NULL (not true) when there is nothing to divide by
        return f"{dbl(part)} / NULLIF({whole}, 0) >= {dbl('%s')}"

    noisy = (f"({alerts} >= %s AND {alerts} > {dbl('%s')} * {actions})", [t["noisy_min_alerts"], t["noisy_ratio"]])
    more_cleanup = (f"({c}.runs >= %s AND {cleanup} > {clean_runs})", [t["min_runs"]])
    retire = [
        (f"({c}.runs = 0 AND {c}.status <> 'paused')", []),  # not_used
        (f"({alerts} >= %s AND {rate_at_least(f'{c}.alerts_ignored', alerts)})",  # alerts_ignored
         [t["noisy_min_alerts"], t["ignored_share"]]),
        more_cleanup,  # more_cleanup_than_value
    ]  # fmt: skip
    pause = [(f"NOT ({c}.owned AND {c}.rule_written AND {c}.output_written AND {c}.purpose_written)", [])]
    adjust = [
        noisy,
        (f"(NOT {more_cleanup[0]} AND {c}.maintenance_minutes >= %s)", [*more_cleanup[1], t["maintenance_minutes"]]),
        (f"({c}.runs >= %s AND {rate_at_least(f'{c}.overrides', f'({c}.runs + {c}.decisions_made)')})",  # overridden
         [t["min_runs"], t["override_rate"]]),
        (f"({c}.runs >= %s AND {rate_at_least(f'{c}.failures', f'{c}.runs')})", [t["min_runs"], t["failure_rate"]]),
    ]  # fmt: skip
    whens, params = [], []
    for action, conditions in ((R.RETIRE, retire), (R.PAUSE, pause), (R.ADJUST, adjust)):
        whens.append(f"WHEN {' OR '.join(sql for sql, _ in conditions)} THEN '{action.value}'")
        params += [p for _, ps in conditions for p in ps]
    recommendation = f"CASE {' '.join(whens)} ELSE '{R.KEEP.value}' END"
    return (recommendation, params), noisy


NEEDS_A_PERSON = "Needs a person"


def questions(data: ReviewInput, recommendation: str) -> list[dict]:
    """The guide's review questions, answered from the data where it can; "needs a person" where
    not. Derived from a row's stored counts and facts whenever it is shown, never stored."""

    def answer(question: str, text: str, *, from_data: bool = True) -> dict:
        return {"question": question, "answer": text, "from_data": from_data}

    out = []
    if data.runs:
        out.append(answer("Is it still used?", f"Yes: {data.runs} runs."))
    else:
        out.append(answer("Is it still used?", "No runs this month."))
    value = []
    if data.sla_measured:
        value.append(f"SLA met {data.sla_met} of {data.sla_measured}")
    if data.avg_response_seconds is not None:
        value.append(f"average response {data.avg_response_seconds} s")
    if data.tasks_completed:
        value.append(f"{data.tasks_completed} tasks completed")
    if data.handoffs_measured:
        value.append(f"{data.handoffs_complete} of {data.handoffs_measured} handoffs complete")
    saved = "Did it save time or reduce risk?"
    out.append(
        answer(saved, "; ".join(value) + ".")
        if value
        else answer(saved, f"{NEEDS_A_PERSON}: no value metrics reported.", from_data=False)
    )
    out.append(
        answer(
            "Were its alerts ignored?",
            f"{data.alerts_ignored} of {data.alerts_total} alerts had no action taken."
            if data.alerts_total
            else "It sent no alerts.",
        )
    )
    out.append(
        answer(
            "Were tasks created but not completed?",
            f"{max(data.tasks_created - data.tasks_completed, 0)} of {data.tasks_created} not completed."
            if data.tasks_created
            else "It created no tasks.",
        )
    )
    out.append(
        answer(
            "Are users overriding it?",
            f"{data.overrides} overrides ({_pct(data.override_rate)})." if data.overrides else "No overrides.",
        )
    )
    if not data.failures:
        out.append(answer("Which failures came from bad data?", "No failures."))
    else:
        rest = data.failures - data.bad_data_failures
        text = f"{data.bad_data_failures} of {data.failures} failures reported a data-quality issue"
        out.append(
            answer(
                "Which failures came from bad data?",
                text + (f"; {NEEDS_A_PERSON.lower()} for the other {rest}." if rest else "."),
                from_data=not rest,
            )
        )
    if not (data.rule_owner and data.failure_owner):
        out.append(answer("Which failures came from unclear ownership?", "No clear owner is named."))
    elif data.failures:
        out.append(
            answer(
                "Which failures came from unclear ownership?",
                f"{NEEDS_A_PERSON}: owners are named ({data.rule_owner}, failure owner {data.failure_owner}).",
                from_data=False,
            )
        )
    else:
        out.append(answer("Which failures came from unclear ownership?", "No failures; owners are named."))
    untrusted = data.deprecated_fields + data.unstable_fields
    out.append(
        answer(
            "Is its data still trusted?",
            f"Not trusted: {', '.join(untrusted)}." if untrusted else "Yes: every field it uses is trusted.",
        )
    )
    out.append(
        answer(
            "Did a business change touch it?",
            "; ".join(data.change_events) + "." if data.change_events else "No change event since its last review.",
        )
    )
    if data.went_live_on:
        due = date.fromisoformat(data.went_live_on) + timedelta(days=14)
        out.append(
            answer(
                "Was it reviewed two weeks after launch?",
                f"Went live on {data.went_live_on}; the launch sequence's review was due on {due:%Y-%m-%d}.",
            )
        )
    if data.maturity_stage:
        stage = MaturityStage(data.maturity_stage)
        out.append(
            answer(
                "Is this the right level of automation for the workflow?",
                f"{NEEDS_A_PERSON}: it is at stage {stage.label} ({MATURITY_BEHAVIOUR[stage].lower()}).",
                from_data=False,
            )
        )
    out.append(
        answer(
            "Should it be retired?",
            "Recommended: " + R(recommendation).label.lower() + ".",
        )
    )
    return out
