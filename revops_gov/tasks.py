import time

from celery import shared_task
from django.core.cache import cache

HEARTBEAT_KEY = "revops:worker-heartbeat"


@shared_task(name="revops_gov.tasks.heartbeat", ignore_result=True)
def heartbeat():
    """Beat sends this every few minutes; /healthz shows how long ago a worker last ran it, so a
    stopped worker or beat is visible (with a shared cache such as Redis)."""
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)


@shared_task(name="outbox.deliver", ignore_result=True, acks_late=True)
def deliver_one(delivery_pk: int) -> str:
    """One attempt at one delivery; on failure, the next attempt after its backoff (the sweep
    sends it too if this message is lost with its worker)."""
    from django.conf import settings

    from . import outbox

    outcome = outbox.deliver(delivery_pk)
    if outcome.result == "retry":
        deliver_one.apply_async(args=[delivery_pk], countdown=outcome.retry_in, queue=settings.REVOPS["OUTBOX_QUEUE"])
    return outcome.result


@shared_task(name="outbox.sweep", ignore_result=True)
def sweep() -> int:
    """Re-enqueue every pending delivery whose next try is due: nothing is lost with a dead worker."""
    from . import outbox

    ids = outbox.due_ids()
    outbox.enqueue_tasks(ids)
    return len(ids)
