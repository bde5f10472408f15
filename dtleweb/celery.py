"""The Celery app; workers start with ``celery -A dtleweb worker``, the scheduler with ``beat``."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dtleweb.settings")

app = Celery("dtleweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
