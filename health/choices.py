from django.db import models


class RunOutcome(models.TextChoices):
    RUNNING = "running", "Running (started, no end yet)"
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    SKIPPED = "skipped", "Skipped"


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


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    SUPPRESSED = "suppressed", "Suppressed"
    RESOLVED = "resolved", "Resolved"


# A finding in one of these states is the automation's one finding of its kind.
UNRESOLVED = (FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED, FindingStatus.SUPPRESSED)
