import time

from celery import shared_task
from django.core.cache import cache

HEARTBEAT_KEY = "revops:worker-heartbeat"


@shared_task(name="revops_gov.tasks.heartbeat", ignore_result=True)
def heartbeat():
    """Beat sends this every few minutes; /healthz shows how long ago a worker last ran it, so a
    stopped worker or beat is visible (with a shared cache such as Redis)."""
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)
