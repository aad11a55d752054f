"""The Celery application: configured from Django settings prefixed CELERY_."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "credentials_service.settings.base")

app = Celery("credentials_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
