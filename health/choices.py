from django.db import models


class RunOutcome(models.TextChoices):
    RUNNING = "running", "Running (started, no end yet)"
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    SKIPPED = "skipped", "Skipped"
    TIMED_OUT = "timed_out", "Timed out (no end within its maximum duration)"


# Outcomes of a run that has not ended as far as the CRM told us: a finished outcome reported
# later replaces them (health.ingest.merge_facts).
OPEN_OUTCOMES = (RunOutcome.RUNNING, RunOutcome.TIMED_OUT)
# Outcomes the review counts as failures.
FAILED_OUTCOMES = (RunOutcome.FAILURE, RunOutcome.TIMED_OUT)


class FactKind(models.TextChoices):
    ADDED = "added", "Added (was not known yet)"
    CORRECTED = "corrected", "Corrected (contradicted what was stored)"
    INFERRED = "inferred", "Inferred by the product"


class FactSource(models.TextChoices):
    API = "api", "Run events API"
    PING = "ping", "Ping"
    MONITOR = "monitor", "Monitor pass"


class RunMode(models.TextChoices):
    LIVE = "live", "Live"
    SHADOW = "shadow", "Shadow (compared with what a human did)"


class FindingKind(models.TextChoices):
    DID_NOT_RUN = "did_not_run", "Did not run"
    RAN_TWICE = "ran_twice", "Ran twice or overlapping"
    RUNNING_TOO_LONG = "running_too_long", "Running too long"
    STALE_DATA = "stale_data", "Used stale data"
    WRONG_OWNER = "wrong_owner", "Wrong owner (reassigned or overridden)"
    TOO_MANY_ALERTS = "too_many_alerts", "Too many alerts"
    BROKE_AFTER_CHANGE = "broke_after_change", "Broke after a field change"
    REPORTING_SIDE_EFFECTS = "reporting_side_effects", "Reporting side effects"
    FAILURE_RATE_UP = "failure_rate_up", "Failure rate up"
    TIMED_OUT = "timed_out", "Runs timed out"
    # Raised from what a CRM metadata import found (discovery.selectors.drift).
    CRM_CHANGED = "crm_changed", "Changed in the CRM since approval"
    CRM_ACTIVE_WHILE_PAUSED = "crm_active_while_paused", "Active in the CRM, paused or retired here"
    CRM_INACTIVE_WHILE_LIVE = "crm_inactive_while_live", "Live here, inactive or missing in the CRM"
    CRM_COLLISION = "crm_collision", "Collides with another automation in the CRM"


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    SUPPRESSED = "suppressed", "Suppressed"
    FIXED = "fixed", "Fixed (waiting for clean runs)"
    VERIFIED = "verified", "Verified (clean runs seen)"
    # "resolved" is stored as before; it is the incident's "closed" (health/README.md).
    RESOLVED = "resolved", "Closed"


# A finding in one of these states is the automation's one finding of its kind.
UNRESOLVED = (FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED, FindingStatus.SUPPRESSED, FindingStatus.FIXED)
# A hold placed for a finding in one of these states stays: it lifts on verification, or when an
# admin releases it with a reason (health.services.finding_hold_release) — never on a suppression.
HOLDING = UNRESOLVED
