from django.db import models


class CandidateStatus(models.TextChoices):
    NEW = "new", "New"
    TRIAGED = "triaged", "Triaged"
    PROMOTED = "promoted", "Promoted"
    DECLINED = "declined", "Declined"
    DEFERRED = "deferred", "Deferred"


# Candidates still on the backlog: they are re-scored when the scoring model changes.
OPEN_STATUSES = (CandidateStatus.NEW, CandidateStatus.TRIAGED, CandidateStatus.DEFERRED)
# What the board shows unless a status is chosen.
BOARD_STATUSES = (CandidateStatus.NEW, CandidateStatus.TRIAGED)


class Answer(models.TextChoices):
    YES = "yes", "Yes"
    PARTLY = "partly", "Partly"
    NO = "no", "No"


class Group(models.TextChoices):
    READY = "ready", "Ready to automate"
    NEEDS_DESIGN = "needs_design", "Needs process design"
    KEEP_HUMAN = "keep_human", "Keep human"


class Flag(models.TextChoices):
    DEFER = "defer", "Defer"
    AVOID = "avoid", "Avoid"


class ScoringMethod(models.TextChoices):
    """How a scoring model version signs its weights (issue 15 §5)."""

    RISK_AGAINST = "risk_against", "Risk and maintenance cost count against (before issue 15 §5)"
    GUIDE = "guide", "The guide's table: every factor raises the score (maintenance 5 = easy to support)"
