"""The Celery app: configuration comes from Django settings (CELERY_*), tasks from each app."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revops_gov.settings")

app = Celery("revops_gov")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
