"""Periodic health work (scheduled in settings, block "health (run events, monitors)"). Thin:
each task calls one service; each service is safe to run twice or on two workers at once."""

from celery import shared_task

from . import alerts, monitors, reminders, services


@shared_task(acks_late=True)
def monitors_run() -> dict:
    result = monitors.monitors_run()
    alerts.findings_alert()
    return result


@shared_task(acks_late=True)
def findings_alert() -> dict:
    return alerts.findings_alert()


@shared_task(acks_late=True)
def findings_digest() -> int:
    return alerts.findings_digest()


@shared_task(acks_late=True)
def runs_purge() -> int:
    return services.runs_purge()


@shared_task(acks_late=True)
def runs_partitions_prepare() -> list[str]:
    return services.runs_partitions_prepare()


@shared_task(acks_late=True)
def review_reminders_send() -> dict:
    return reminders.review_reminders_send()
