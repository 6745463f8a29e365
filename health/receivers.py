"""Health's side of the outbox: a review reminder is recorded as sent when its email was."""

from django.dispatch import receiver

from revops_gov.outbox import delivery_sent

from .models import ReviewReminder


@receiver(delivery_sent, dispatch_uid="health.review_reminder_sent")
def review_reminder_sent(sender, delivery, **kwargs) -> None:
    ReviewReminder.objects.filter(delivery_id=delivery.pk, reminded_at__isnull=True).update(
        reminded_at=delivery.sent_at
    )
