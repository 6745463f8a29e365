"""The monthly review's beat task (settings, block "health (monthly review, reminders)"): thin,
safe to run any number of times or on two workers at once."""

from celery import shared_task

from . import services


@shared_task(name="health.reviews.monthly_review", acks_late=True)
def monthly_review() -> str:
    return services.monthly_review_tick()
