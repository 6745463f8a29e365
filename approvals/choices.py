from django.db import models


class PacketState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    REJECTED = "rejected", "Rejected"
    SUPERSEDED = "superseded", "Replaced by a newer version"


class Verdict(models.TextChoices):
    APPROVE = "approve", "Approve"
    CHANGES_REQUESTED = "changes_requested", "Request changes"
    REJECT = "reject", "Reject"


class ReadinessItem(models.TextChoices):
    """The guide's readiness checklist. Some are computed from data (DERIVED), the rest ticked."""

    RULE_DOCUMENTED = "rule_documented", "Rule is documented"
    DATA_SOURCE_TRUSTED = "data_source_trusted", "Data source is trusted"
    OWNER_NAMED = "owner_named", "Owner is named"
    EXCEPTION_PATH = "exception_path", "Exception path is defined"
    TEST_CASES = "test_cases", "Test cases are complete"
    AUDIT_TRAIL = "audit_trail", "Audit trail exists"
    USERS_UNDERSTAND = "users_understand", "Users understand the expected action"
    REPORTING_IMPACT = "reporting_impact", "Reporting impact is known"
    REVIEW_CADENCE = "review_cadence", "Review cadence is scheduled"


class TrainingStep(models.TextChoices):
    """The guide's change-management steps, ticked by a person during the launch plan."""

    EXPLAIN_WORKFLOW = "explain_workflow", "Explain the workflow"
    SHOW_EXAMPLES = "show_examples", "Show examples"
    EXPLAIN_EXCEPTIONS = "explain_exceptions", "Explain exception handling"
    TRAIN_MANAGERS = "train_managers", "Train managers"
    SUPPORT_PATH = "support_path", "Define the support path"


class TestKind(models.TextChoices):
    """The guide's test plan."""

    COMMON = "common", "Common case"
    EDGE = "edge", "Edge case"
    BAD_DATA = "bad_data", "Bad data"
    PERMISSION = "permission", "Permission"
    ROLLBACK = "rollback", "Rollback"
    NOTIFICATION = "notification", "Notification quality"
    REPORTING = "reporting", "Reporting impact"
