from django.db import models


class WorkflowType(models.TextChoices):
    LEAD_ROUTING = "lead_routing", "Lead routing"
    SLA_MANAGEMENT = "sla_management", "SLA management"
    CRM_HYGIENE = "crm_hygiene", "CRM hygiene"
    HANDOFF = "handoff", "Handoff"
    FORECAST_HYGIENE = "forecast_hygiene", "Forecast hygiene"
    RENEWAL = "renewal", "Renewal"
    REPORTING = "reporting", "Reporting"
    OTHER = "other", "Other"


class Team(models.TextChoices):
    MARKETING = "marketing", "Marketing"
    SALES = "sales", "Sales"
    CUSTOMER_SUCCESS = "cs", "Customer success"
    FINANCE = "finance", "Finance"
    REVOPS = "revops", "RevOps"


class RiskTier(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"

    @property
    def rank(self) -> int:
        return TIER_RANK[self]


TIER_RANK = {RiskTier.LOW: 1, RiskTier.MEDIUM: 2, RiskTier.HIGH: 3}
TIER_BY_RANK = {rank: tier for tier, rank in TIER_RANK.items()}


class LifecycleStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    IN_DESIGN = "in_design", "In design"
    APPROVED = "approved", "Approved"
    SHADOW = "shadow", "Shadow"
    LIVE = "live", "Live"
    PAUSED = "paused", "Paused"
    RETIRED = "retired", "Retired"
    # Found running in the CRM by a metadata import (discovery) with no registry record: never
    # approved, so not live; it counts against the standard until adopted or recorded retired.
    DISCOVERED = "discovered", "Discovered"


# Statuses in which an approval has been given and a material change must send it back.
APPROVED_STATUSES = (LifecycleStatus.APPROVED, LifecycleStatus.SHADOW, LifecycleStatus.LIVE, LifecycleStatus.PAUSED)


class MaturityStage(models.IntegerChoices):
    """The guide's automation maturity model."""

    MANUAL = 1, "1 · Manual"
    TRIGGERED = 2, "2 · Triggered"
    GOVERNED = 3, "3 · Governed"
    CROSS_FUNCTIONAL = 4, "4 · Cross-functional"
    ASSISTED = 5, "5 · Assisted"


MATURITY_BEHAVIOUR = {
    MaturityStage.MANUAL: "Work happens through reminders, spreadsheets, and individual follow-up",
    MaturityStage.TRIGGERED: "Simple rules create tasks, alerts, or assignments",
    MaturityStage.GOVERNED: "Automations have owners, tests, audit logs, and review cadence",
    MaturityStage.CROSS_FUNCTIONAL: "Workflows connect sales, marketing, CS, finance, and systems",
    MaturityStage.ASSISTED: "AI suggests actions while humans approve high-impact changes",
}


class ReviewCadence(models.IntegerChoices):
    """How often an automation is reviewed, in days."""

    MONTHLY = 30, "Monthly"
    QUARTERLY = 90, "Quarterly"
    TWICE_A_YEAR = 180, "Twice a year"
    YEARLY = 365, "Yearly"


DEFAULT_CADENCE_BY_TIER = {
    RiskTier.HIGH: ReviewCadence.MONTHLY,
    RiskTier.MEDIUM: ReviewCadence.QUARTERLY,
    RiskTier.LOW: ReviewCadence.TWICE_A_YEAR,
}


class DataFieldStatus(models.TextChoices):
    TRUSTED = "trusted", "Trusted"
    UNSTABLE = "unstable", "Unstable"
    DEPRECATED = "deprecated", "Deprecated"


class ChangeEventKind(models.TextChoices):
    """The guide's "review automations when…" list."""

    TERRITORIES = "territories", "Territories changed"
    SEGMENTS = "segments", "Segments changed"
    NEW_PRODUCT = "new_product", "New product launched"
    FORECAST_CATEGORIES = "forecast_categories", "Forecast categories changed"
    CRM_FIELDS = "crm_fields", "CRM fields changed"
    SYSTEM_MIGRATION = "system_migration", "System migrated"
    REORGANISATION = "reorganisation", "Teams reorganised"
    SLA_RULES = "sla_rules", "SLA rules changed"
    AI_WORKFLOW = "ai_workflow", "AI workflow added"


class ScheduleKind(models.TextChoices):
    NONE = "none", "No fixed schedule (event-driven)"
    INTERVAL = "interval", "Every fixed interval"
    CRON = "cron", "Cron expression"


class OwnerRole(models.TextChoices):
    RULE = "rule_owner", "Rule owner"
    SYSTEM = "system_owner", "System owner"
    FAILURE = "failure_owner", "Failure owner"
    EXCEPTION = "exception_owner", "Exception owner"
    SUPPORT = "support_contact", "Support contact"
