"""The dashboard's numbers, each with the URL of the filtered list behind it, and the program's
maturity stage from the guide's maturity model, derived from the data with its reasons.

A number and its link come from one definition: the filter query string of the list it opens.
The number applies that list's own FilterSet (or selector) to the list's own queryset, for the
person looking, so it is the number of rows the link opens (issue 16). A tile whose page the
person's role may not open shows its number without a link.

The counts are a fixed set of aggregate queries, so the page costs the same number of queries
for ten automations or ten thousand."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Count, F, Q
from django.urls import reverse
from django.utils import timezone

from approvals.choices import PacketState
from approvals.decisions import selectors as decision_selectors
from approvals.decisions.kinds import DecisionStatus
from approvals.decisions.models import DecisionRequest
from approvals.models import ApprovalPacket
from approvals.selectors import waiting_for
from backlog.choices import Group
from backlog.filters import CandidateFilter
from backlog.selectors import candidate_queryset
from registry.choices import TIER_BY_RANK, LifecycleStatus, MaturityStage, OwnerRole, RiskTier, Team, WorkflowType
from registry.filters import AutomationFilter
from registry.models import Automation
from registry.selectors import automation_queryset
from revops_gov.roles import can_decide, can_govern

from ..choices import UNRESOLVED, Severity
from ..models import Finding
from ..reviews.selectors import review_list

# "Workflows connect sales, marketing, CS, finance, and systems" (RevOps runs the systems).
CROSS_FUNCTIONAL_TEAMS = (Team.SALES, Team.MARKETING, Team.CUSTOMER_SUCCESS, Team.FINANCE, Team.REVOPS)
# How recent a person's decision on an AI suggestion must be for the program to count as assisted.
ASSISTED_WINDOW = timedelta(days=90)


def _url(name: str, **params) -> str:
    query = urlencode({key: value for key, value in params.items() if value not in (None, "")})
    return reverse(name) + (f"?{query}" if query else "")


AUTOMATIONS = "registry:automation-list"
LIVE = LifecycleStatus.LIVE.value
# Every count of automations the dashboard shows, by the filters of the list that shows them.
AUTOMATION_LISTS: dict[str, dict[str, str]] = {
    **{f"status_{status.value}": {"status": status.value} for status in LifecycleStatus},
    # The tier tiles leave retired automations out; so does the list they open.
    **{f"tier_{tier.value}": {"tier": tier.value, "retired": "no"} for tier in RiskTier},
    "review_due": {"review_due": "yes"},
    "live_review_due": {"status": LIVE, "review_due": "yes"},
    "live_unapproved": {"status": LIVE, "packet": "missing"},
    **{f"live_missing_{role.value}": {"status": LIVE, "missing_owner": role.value} for role in OwnerRole},
}


def _automations_url(key: str) -> str:
    return _url(AUTOMATIONS, **AUTOMATION_LISTS[key])


def _automation_list(params: dict, *, now: datetime):
    """What the automation list shows for these filters: its FilterSet over its queryset."""
    filterset = AutomationFilter(params, queryset=automation_queryset(now=now))
    if not filterset.is_valid():
        raise ValueError(f"The dashboard links to the automation list with bad filters {params}: {filterset.errors}")
    return filterset.qs


def _automation_counts(*, now: datetime) -> dict[str, int]:
    """The size of each list in AUTOMATION_LISTS, in one aggregate query."""
    counts = {
        f"n_{key}": Count("pk", filter=Q(pk__in=_automation_list(params, now=now).values("pk")))
        for key, params in AUTOMATION_LISTS.items()
    }
    result = Automation.objects.order_by().aggregate(**counts)
    return {name.removeprefix("n_"): value for name, value in result.items()}


@dataclass(frozen=True)
class Tile:
    label: str
    count: int
    url: str
    tone: str = ""  # a Bootstrap colour for numbers that ask for attention


@dataclass
class StageCheck:
    stage: MaturityStage
    met: bool = False
    reasons: list[tuple[str, str]] = field(default_factory=list)  # (why not, URL of the list behind it)


@dataclass
class Maturity:
    stage: MaturityStage
    checks: list[StageCheck]

    @property
    def next_check(self) -> StageCheck | None:
        return next((check for check in self.checks if not check.met), None)


@dataclass(frozen=True)
class ReviewProgress:
    """The latest monthly health review: how many of its recommendations an admin confirmed."""

    month: datetime
    total: int
    confirmed: int
    url: str
    waiting_url: str

    @property
    def waiting(self) -> int:
        return self.total - self.confirmed

    @property
    def percent(self) -> int:
        return round(100 * self.confirmed / self.total) if self.total else 100


@dataclass
class Dashboard:
    by_status: list[Tile]
    by_tier: list[Tile]
    findings_by_severity: list[Tile]
    attention: list[Tile]
    maturity: Maturity
    total: int
    review: ReviewProgress | None


def _registry_tiles(counts: dict[str, int]) -> tuple[list[Tile], list[Tile], int]:
    by_status = [
        Tile(status.label, counts[f"status_{status.value}"], _automations_url(f"status_{status.value}"))
        for status in LifecycleStatus
    ]
    tones = {RiskTier.HIGH: "danger", RiskTier.MEDIUM: "warning", RiskTier.LOW: "secondary"}
    by_tier = [
        Tile(f"{tier.label} tier", counts[f"tier_{tier.value}"], _automations_url(f"tier_{tier.value}"), tones[tier])
        for _rank, tier in sorted(TIER_BY_RANK.items(), reverse=True)
    ]
    return by_status, by_tier, sum(tile.count for tile in by_status)


def _findings_by_severity() -> list[Tile]:
    counts = dict(
        Finding.objects.filter(status__in=UNRESOLVED)
        .order_by()
        .values("severity")
        .annotate(n=Count("pk"))
        .values_list("severity", "n")
    )
    tones = {Severity.HIGH: "danger", Severity.MEDIUM: "warning", Severity.LOW: "secondary"}
    return [
        Tile(
            f"{severity.label} severity",
            counts.get(severity.value, 0),
            _url("health:finding-list", severity=severity.value),
            tones[severity],
        )
        for severity in (Severity.HIGH, Severity.MEDIUM, Severity.LOW)
    ]


def _decision_tiles(*, now: datetime, user) -> list[Tile]:
    """The decision tiles link only to a page the person may open, and count what it lists: an
    admin (or no one in particular) gets every open request and the team view; anyone else their
    own queue (theirs and their reports'), which every reader may open."""
    team = user is None or can_govern(user)
    counts = decision_selectors.queue_counts(user=user, team=team, now=now)
    page = "decisions:team" if team else "decisions:queue"
    waiting, overdue = (
        ("Decisions waiting", "Decisions past due") if team else ("Your decisions waiting", "Your decisions past due")
    )
    return [
        Tile(waiting, counts["waiting"], _url(page), "primary"),
        Tile(overdue, counts["overdue"], _url(page, overdue="yes"), "danger"),
    ]


def _packet_tile(*, user) -> Tile:
    """Someone who may review packets gets the page of those waiting for them (not their own
    submissions, not rules they own) and its count; anyone else, whose role cannot open that page,
    the number of packets awaiting approval without a link."""
    if user is not None and can_decide(user):
        return Tile("Packets waiting for your review", waiting_for(user).count(), _url("approvals:waiting"), "primary")
    packets = ApprovalPacket.objects.filter(state=PacketState.SUBMITTED, automation_version=F("automation__version"))
    return Tile("Packets awaiting approval", packets.count(), "", "primary")


def _backlog_tile() -> Tile:
    """What the board lists for `group=ready`: its FilterSet (open means new or triaged, not
    deferred) over its queryset."""
    params = {"group": Group.READY.value}
    ready = CandidateFilter(params, queryset=candidate_queryset()).qs.order_by().count()
    return Tile("Backlog ready to automate", ready, _url("backlog:board", **params), "success")


def _attention(*, now: datetime, running: dict, user=None) -> list[Tile]:
    return [
        Tile("Reviews overdue", running["review_due"], _automations_url("review_due"), "warning"),
        Tile(
            "Running in the CRM unapproved",
            running["status_discovered"],
            _automations_url("status_discovered"),
            "danger",
        ),
        *_decision_tiles(now=now, user=user),
        _packet_tile(user=user),
        _backlog_tile(),
    ]


def _running_facts(*, now: datetime) -> dict:
    """What the maturity stages and the tiles need: the size of every automation list the
    dashboard links to (one aggregate), the live facts the stages test, and the few names a
    failing stage points at."""
    facts = _automation_counts(now=now)
    live = Q(status=LifecycleStatus.LIVE)
    facts.update(
        Automation.objects.order_by().aggregate(
            live=Count("pk", filter=live),
            live_handoffs=Count("pk", filter=live & Q(workflow_type=WorkflowType.HANDOFF)),
            live_ai=Count("pk", filter=live & Q(uses_ai=True)),
        )
    )
    facts["unapproved_names"] = list(
        _automation_list(AUTOMATION_LISTS["live_unapproved"], now=now).order_by("name").values_list("name", "key")[:5]
    )
    facts["live_teams"] = set(Automation.objects.filter(live).order_by().values_list("team", flat=True).distinct())
    facts["ai_decided"] = DecisionRequest.objects.filter(
        automation__uses_ai=True, status=DecisionStatus.DECIDED, closed_at__gte=now - ASSISTED_WINDOW
    ).exists()
    return facts


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def program_maturity(facts: dict) -> Maturity:
    """The guide's maturity model for the whole program: each stage's test, in order; the stage
    is the last one met with every stage before it met too. Each reason links to its list."""
    automations = AUTOMATIONS
    live = LIVE
    triggered = StageCheck(MaturityStage.TRIGGERED, met=facts["live"] > 0)
    if not triggered.met:
        triggered.reasons.append(
            ("No automation is live yet: the work still runs on reminders and spreadsheets.", _url(automations))
        )

    governed = StageCheck(MaturityStage.GOVERNED, met=True)
    for role in OwnerRole:
        missing = facts[f"live_missing_{role.value}"]
        if missing:
            governed.reasons.append(
                (
                    f"{_plural(missing, 'live automation has', 'live automations have')} no {role.label.lower()}.",
                    _automations_url(f"live_missing_{role.value}"),
                )
            )
    if facts["live_unapproved"]:
        names = ", ".join(name for name, _key in facts["unapproved_names"])
        more = facts["live_unapproved"] - len(facts["unapproved_names"])
        governed.reasons.append(
            (
                f"{_plural(facts['live_unapproved'], 'live automation has', 'live automations have')} no approved "
                f"packet (with its tests) for the current version: {names}{f' and {more} more' if more > 0 else ''}.",
                _automations_url("live_unapproved"),
            )
        )
    if facts["live_review_due"]:
        governed.reasons.append(
            (
                f"{_plural(facts['live_review_due'], 'live automation is', 'live automations are')} due for review.",
                _automations_url("live_review_due"),
            )
        )
    if facts["status_discovered"]:
        # Found running in the CRM with no record or approval (discovery): against the practical
        # standard until adopted or recorded retired in the CRM (approvals.services.discovered_*).
        governed.reasons.append(
            (
                f"{_plural(facts['status_discovered'], 'automation runs', 'automations run')} in the CRM without a "
                "registry record or approval (discovered): adopt or record retired in the CRM.",
                _automations_url("status_discovered"),
            )
        )
    if not facts["live"]:
        governed.reasons.append(("Nothing is live, so nothing is governed in practice.", _url(automations)))
    governed.met = not governed.reasons

    cross = StageCheck(MaturityStage.CROSS_FUNCTIONAL)
    missing_teams = [team for team in CROSS_FUNCTIONAL_TEAMS if team.value not in facts["live_teams"]]
    if missing_teams:
        cross.reasons.append(
            (
                "No live automation yet for "
                + ", ".join(team.label if team == Team.REVOPS else team.label.lower() for team in missing_teams)
                + ".",
                _url(automations, status=live),
            )
        )
    if not facts["live_handoffs"]:
        cross.reasons.append(
            (
                "No live handoff connects one team's work to the next.",
                _url(automations, workflow_type=WorkflowType.HANDOFF),
            )
        )
    cross.met = not cross.reasons

    assisted = StageCheck(MaturityStage.ASSISTED)
    if not facts["live_ai"]:
        assisted.reasons.append(("No live automation uses AI to suggest actions.", _url(automations, status=live)))
    if not facts["ai_decided"]:
        assisted.reasons.append(
            (
                f"No AI suggestion was decided by a person in the last {ASSISTED_WINDOW.days} days.",
                _url("decisions:history"),
            )
        )
    assisted.met = not assisted.reasons

    checks = [triggered, governed, cross, assisted]
    stage = MaturityStage.MANUAL
    for check in checks:
        if not check.met:
            break
        stage = check.stage
    return Maturity(stage=stage, checks=checks)


def _review_progress() -> ReviewProgress | None:
    review = review_list().first()
    if review is None:
        return None
    url = review.get_absolute_url()
    return ReviewProgress(
        month=review.month,
        total=review.rows_total,
        confirmed=review.rows_confirmed,
        url=url,
        waiting_url=f"{url}?{urlencode({'confirmed': 'no'})}",
    )


def dashboard(*, now: datetime | None = None, user=None) -> Dashboard:
    """The numbers; `user` is who looks (the decision tiles are theirs unless they are an admin)."""
    now = now or timezone.now()
    facts = _running_facts(now=now)
    by_status, by_tier, total = _registry_tiles(facts)
    return Dashboard(
        by_status=by_status,
        by_tier=by_tier,
        findings_by_severity=_findings_by_severity(),
        attention=_attention(now=now, running=facts, user=user),
        maturity=program_maturity(facts),
        total=total,
        review=_review_progress(),
    )
