"""The decision queue's Celery tasks: thin, taking ids, calling services; each idempotent."""

from celery import shared_task
from django.conf import settings

from . import services, webhooks


@shared_task(name=services.DELIVER_TASK, ignore_result=True, acks_late=True)
def deliver_event(event_pk: int) -> str:
    """Deliver one webhook event; on failure schedule the next attempt after its backoff (the
    sweep sends it too if this message is lost with its worker)."""
    outcome = webhooks.deliver(event_pk)
    if outcome.result == "retry":
        deliver_event.apply_async(
            args=[event_pk], countdown=outcome.retry_in, queue=settings.REVOPS["DECISION_WEBHOOK_QUEUE"]
        )
    return outcome.result


@shared_task(name="decisions.outbox_sweep", ignore_result=True)
def outbox_sweep() -> int:
    """Re-enqueue every pending event whose attempt is due: nothing is lost with a dead worker."""
    ids = webhooks.due_event_ids()
    services.enqueue_deliveries(ids)
    return len(ids)


@shared_task(name="decisions.escalate_overdue", ignore_result=True)
def escalate_overdue() -> int:
    return services.escalate_overdue()


@shared_task(name="decisions.expire_due", ignore_result=True)
def expire_due() -> int:
    return services.expire_due()


@shared_task(name="decisions.send_digests", ignore_result=True)
def send_digests() -> int:
    return services.digests_send()
