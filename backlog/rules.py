"""The backlog's rules, as pure functions of plain values (the guide's decision matrix, its
"keep human judgment for" list and its prioritization score), so each is tested by table and by
hypothesis. The SQL forms used by lists and the set-based re-score live beside them and are
checked against them in tests.

Why the rules live in one module: a score, a flag and a group are each derived in ONE place and
always shown with their reasons; nothing here is stored twice except the score, whose stored
value is re-computed set-based whenever the weights change (services.scoring_model_publish).
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Case, DecimalField, Exists, ExpressionWrapper, F, OuterRef, Q, Value, When

from .choices import Answer, Flag, Group, ScoringMethod


# --- Judgment flags ("Keep human judgment for", "Avoid automating unclear process") ------------
@dataclass(frozen=True)
class JudgmentFlag:
    field: str
    label: str


JUDGMENT_FLAGS = (
    JudgmentFlag("judgment_strategy", "Strategy decision"),
    JudgmentFlag("judgment_complex_deal", "Complex deal judgment"),
    JudgmentFlag("judgment_customer_relationship", "Customer relationship call"),
    JudgmentFlag("judgment_discount_exception", "Discount exception"),
    JudgmentFlag("judgment_icp_change", "ICP change"),
    JudgmentFlag("judgment_forecast_override", "Forecast override"),
    JudgmentFlag("judgment_sensitive_communication", "Relationship-sensitive customer communication"),
    JudgmentFlag("judgment_unaudited_data_change", "Data change with no audit trail"),
)
JUDGMENT_FLAG_FIELDS = tuple(flag.field for flag in JUDGMENT_FLAGS)


# --- Decision matrix -------------------------------------------------------------------------
@dataclass(frozen=True)
class Question:
    field: str
    label: str
    missing: str  # what is missing when the answer is not yes


QUESTIONS = (
    Question("rule_clear", "Is the rule clear?", "rule not agreed"),
    Question("data_reliable", "Is the data reliable?", "data not reliable"),
    Question("exception_known", "Is the exception path known?", "exception owner unknown"),
    Question("value_measurable", "Is the value measurable?", "value not measurable"),
)
QUESTION_FIELDS = tuple(q.field for q in QUESTIONS)


@dataclass
class GroupDerivation:
    group: Group
    reasons: list[str] = field(default_factory=list)  # why it is in this group
    missing: list[str] = field(default_factory=list)  # what must be settled before it is ready
    judgment: list[str] = field(default_factory=list)  # the judgment flags that keep it human


def derive_group(
    *,
    judgment: dict[str, bool],
    answers: dict[str, str],
    untrusted_fields: list[tuple[str, str]] = (),
    data_override_reason: str = "",
    exception_owner_named: bool = True,
) -> GroupDerivation:
    """The backlog group and its reasons.

    keep human — any judgment flag (automation may still assist: a summary, a reminder);
    ready to automate — all four matrix answers yes (an unstable or deprecated field makes
      "data reliable" not count as yes, unless it was overridden with a reason);
    needs process design — otherwise, listing exactly what is missing.
    `untrusted_fields` is [(qualified name, status label)]."""
    flagged = [flag.label for flag in JUDGMENT_FLAGS if judgment.get(flag.field)]
    missing = []
    for question in QUESTIONS:
        answer = answers.get(question.field) or ""
        if question.field == "data_reliable":
            if answer == Answer.YES and untrusted_fields and not data_override_reason.strip():
                answer = Answer.PARTLY  # a stale "yes": a linked field is no longer trusted
            if answer != Answer.YES:
                if untrusted_fields and not data_override_reason.strip():
                    missing += [f"field {name} {status.lower()}" for name, status in untrusted_fields]
                else:
                    missing.append(_not_yes(question, answer))
            continue
        if answer != Answer.YES:
            if question.field == "exception_known" and not exception_owner_named:
                missing.append("exception owner unknown")
            else:
                missing.append(_not_yes(question, answer))
    if flagged:
        return GroupDerivation(
            Group.KEEP_HUMAN,
            reasons=[f"Needs human judgment: {label.lower()}" for label in flagged],
            missing=missing,
            judgment=flagged,
        )
    if not missing:
        return GroupDerivation(Group.READY, reasons=["All four matrix answers are yes"])
    return GroupDerivation(Group.NEEDS_DESIGN, reasons=[f"Missing: {m}" for m in missing], missing=missing)


def _not_yes(question: Question, answer: str) -> str:
    label = question.label.removeprefix("Is the ").removesuffix("?")
    if not answer:
        return f"{label}: not answered"
    return f"{question.missing} (answered {Answer(answer).label.lower()})"


def group_expression():
    """The same rule as `derive_group`, as SQL, for the board's columns, filters and counts."""
    from registry.choices import DataFieldStatus
    from registry.models import DataField

    judgment = Q()
    for name in JUDGMENT_FLAG_FIELDS:
        judgment |= Q(**{name: True})
    untrusted = Exists(DataField.objects.filter(candidates=OuterRef("pk")).exclude(status=DataFieldStatus.TRUSTED))
    all_yes = Q(**dict.fromkeys(QUESTION_FIELDS, Answer.YES))
    data_trusted = ~Q(data_override_reason="") | ~untrusted
    return Case(
        When(judgment, then=Value(Group.KEEP_HUMAN.value)),
        When(all_yes & data_trusted, then=Value(Group.READY.value)),
        default=Value(Group.NEEDS_DESIGN.value),
    )


# --- Prioritization score --------------------------------------------------------------------
@dataclass(frozen=True)
class Factor:
    name: str
    label: str
    high_means: str  # the guide's "high score means", which is what a 5 means today

    @property
    def against(self) -> bool:
        """Whether it counts against under the guide's method (never); bench/backlog.py's SQL
        floor reads it. Older versions' signs are in AGAINST."""
        return self.name in AGAINST[ScoringMethod.GUIDE]


FACTORS = (
    Factor("volume", "Volume", "The workflow happens often enough to matter"),
    Factor("risk", "Risk", "Misses create revenue, customer, forecast or compliance impact"),
    Factor("rule_clarity", "Rule clarity", "The trigger and expected action are agreed"),
    Factor("data_readiness", "Data readiness", "The fields are complete enough to trust"),
    Factor("exception_clarity", "Exception clarity", "Edge cases have owners"),
    Factor("user_impact", "User impact", "The automation makes work easier, not noisier"),
    # The field keeps its name (`factor_maintenance_cost`); the guide's criterion is
    # supportability, so a 5 is "cheap to support" and raises the score.
    Factor("maintenance_cost", "Maintenance", "The rule can be supported after launch"),
)
FACTOR_NAMES = tuple(f.name for f in FACTORS)
FACTOR_FIELDS = tuple(f"factor_{name}" for name in FACTOR_NAMES)
WEIGHT_FIELDS = tuple(f"weight_{name}" for name in FACTOR_NAMES)
# The guide: "Prioritize high-volume, high-risk, clear-rule workflows first."
DEFAULT_WEIGHTS = {
    "volume": Decimal("3"),
    "risk": Decimal("3"),
    "rule_clarity": Decimal("3"),
    "data_readiness": Decimal("2"),
    "exception_clarity": Decimal("1.5"),
    "user_impact": Decimal("2"),
    "maintenance_cost": Decimal("1"),
}
# What a scoring model version counted against before issue 15 §5 (its arithmetic is still
# shown that way for the scores it produced); the guide's method counts every factor for.
AGAINST = {
    ScoringMethod.RISK_AGAINST: frozenset({"risk", "maintenance_cost"}),
    ScoringMethod.GUIDE: frozenset(),
}
MAINTENANCE_MEANT = {
    ScoringMethod.RISK_AGAINST: "5 meant costly to support",
    ScoringMethod.GUIDE: "5 means easy to support after launch",
}


@dataclass(frozen=True)
class Contribution:
    factor: Factor
    value: int
    weight: Decimal  # signed: negative for factors that count against (old method only)

    @property
    def points(self) -> Decimal:
        return self.value * self.weight

    def __str__(self) -> str:
        return f"{self.factor.label}: {self.value} × {self.weight:+} = {self.points:+}"


@dataclass
class Score:
    total: Decimal | None
    contributions: list[Contribution]
    unscored: list[str]  # factor labels without a value
    version: int | None = None
    method: str = ScoringMethod.GUIDE

    @property
    def arithmetic(self) -> str:
        if self.total is None:
            return "Not scored: " + ", ".join(self.unscored) + " missing"
        return " + ".join(f"({c.value} × {c.weight:+})" for c in self.contributions) + f" = {self.total}"

    @property
    def method_label(self) -> str:
        return ScoringMethod(self.method).label


def signed_weights(weights: dict[str, Decimal], method: str = ScoringMethod.GUIDE) -> dict[str, Decimal]:
    against = AGAINST[ScoringMethod(method)]
    return {f.name: -Decimal(weights[f.name]) if f.name in against else Decimal(weights[f.name]) for f in FACTORS}


def compute_score(
    factors: dict[str, int | None],
    weights: dict[str, Decimal],
    *,
    version=None,
    method: str = ScoringMethod.GUIDE,
) -> Score:
    """Σ factor × weight. With the guide's method every factor counts for: volume, risk (misses
    hurt revenue, customers or the forecast), rule clarity, data readiness, exception clarity,
    user impact and maintenance (supportable after launch); a version published before issue 15
    §5 counted risk and maintenance cost against, and its scores keep that arithmetic.

    No score until all seven factors are scored: a partial score would rank a half-assessed
    request above assessed ones."""
    signed = signed_weights(weights, method)
    contributions = [Contribution(f, factors[f.name], signed[f.name]) for f in FACTORS if factors.get(f.name)]
    unscored = [f.label for f in FACTORS if not factors.get(f.name)]
    total = None if unscored else sum((c.points for c in contributions), Decimal("0"))
    return Score(total=total, contributions=contributions, unscored=unscored, version=version, method=method)


def score_expression(weights: dict[str, Decimal], method: str = ScoringMethod.GUIDE):
    """The same sum as `compute_score`, as one SQL expression over a candidate row (the
    set-based re-score)."""
    signed = signed_weights(weights, method)
    expression = None
    for f in FACTORS:
        term = F(f"factor_{f.name}") * Value(signed[f.name], output_field=DecimalField(max_digits=6, decimal_places=2))
        expression = term if expression is None else expression + term
    return ExpressionWrapper(expression, output_field=DecimalField(max_digits=8, decimal_places=2))


def all_factors_scored() -> Q:
    return Q(**{f"{name}__isnull": False for name in FACTOR_FIELDS})


# --- Flags -----------------------------------------------------------------------------------
# The guide's thresholds on the 1–5 factors (the money threshold for "material" is a setting).
HIGH_RISK = 4  # risk factor at or above this is "high risk"
WEAK_DATA = 2  # data readiness at or below this is "weak"
LOW_VOLUME = 2  # volume factor at or below this is "low volume"


@dataclass(frozen=True)
class RaisedFlag:
    flag: Flag
    rule: str
    reason: str


def material_risk_threshold() -> Decimal:
    return Decimal(settings.REVOPS["BACKLOG_MATERIAL_RISK_REDUCTION"])


def is_deferred(*, risk: int | None, data_readiness: int | None) -> bool:
    """ "Defer high-risk workflows when data readiness is weak": high risk AND weak data."""
    return bool(risk and data_readiness) and risk >= HIGH_RISK and data_readiness <= WEAK_DATA


def is_avoided(*, volume: int | None, risk_reduction: Decimal | None, threshold: Decimal) -> bool:
    """ "Avoid low-volume automations unless the risk is material": low volume AND the revenue at
    risk it protects is under the material threshold."""
    return bool(volume) and volume <= LOW_VOLUME and (risk_reduction or 0) < threshold


def derive_flags(*, factors: dict[str, int | None], risk_reduction: Decimal | None) -> list[RaisedFlag]:
    """The guide's "defer high-risk workflows when data readiness is weak" and "avoid low-volume
    automations unless the risk is material", each with the rule that raised it."""
    flags = []
    risk, readiness, volume = factors.get("risk"), factors.get("data_readiness"), factors.get("volume")
    if is_deferred(risk=risk, data_readiness=readiness):
        flags.append(
            RaisedFlag(
                Flag.DEFER,
                f"risk ≥ {HIGH_RISK} and data readiness ≤ {WEAK_DATA}",
                f"High risk ({risk}) with weak data readiness ({readiness}): fix the data first.",
            )
        )
    threshold = material_risk_threshold()
    if is_avoided(volume=volume, risk_reduction=risk_reduction, threshold=threshold):
        flags.append(
            RaisedFlag(
                Flag.AVOID,
                f"volume ≤ {LOW_VOLUME} unless risk reduction ≥ {threshold:,.0f} per year",
                f"Low volume ({volume}) and the risk reduction ({risk_reduction or 0:,.0f} per year) is not material.",
            )
        )
    return flags


def flag_q(flag: str) -> Q:
    """The same rules as `is_deferred` and `is_avoided`, as filters."""
    if flag == Flag.DEFER:
        return Q(factor_risk__gte=HIGH_RISK, factor_data_readiness__lte=WEAK_DATA)
    return Q(factor_volume__lte=LOW_VOLUME) & ~Q(risk_reduction_per_year__gte=material_risk_threshold())
