from __future__ import annotations

from django.apps import AppConfig


class JobsConfig(AppConfig):
    """The control-plane app."""

    name = "jobs"
    default_auto_field = "django.db.models.BigAutoField"
