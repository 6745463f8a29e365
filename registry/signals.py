"""Cache invalidation for automation cards (registry.cache). Infrastructure only: no rule of the
domain lives here."""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from . import cache
from .models import Automation, ChangeEvent, DataField, Hold


@receiver(post_save, sender=Automation)
@receiver(post_delete, sender=Automation)
def automation_changed(sender, instance, **kwargs):
    cache.invalidate([instance.key])


@receiver(m2m_changed, sender=Automation.data_fields.through)
@receiver(m2m_changed, sender=Automation.tags.through)
def automation_relations_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    if isinstance(instance, Automation):
        cache.invalidate([instance.key])
    elif pk_set:
        cache.invalidate(Automation.objects.filter(pk__in=pk_set).values_list("key", flat=True))


@receiver(post_save, sender=DataField)
def data_field_changed(sender, instance, **kwargs):
    cache.invalidate(instance.automations.values_list("key", flat=True))


@receiver(m2m_changed, sender=ChangeEvent.automations.through)
def change_event_linked(sender, instance, action, reverse, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    if isinstance(instance, ChangeEvent):
        cache.invalidate(instance.automations.values_list("key", flat=True))
    else:
        cache.invalidate([instance.key])


@receiver(post_save, sender=Hold)
def hold_changed(sender, instance, **kwargs):
    cache.invalidate(Automation.objects.filter(pk=instance.automation_id).values_list("key", flat=True))
