"""The backlog's panel on the automation page: the candidate it was promoted from (one query)."""

from .models import Candidate


def promoted_from(request, automation) -> dict:
    candidate = Candidate.objects.select_related("requester", "scoring_model").filter(automation=automation).first()
    return {"candidate": candidate}
