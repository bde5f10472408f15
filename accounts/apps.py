from __future__ import annotations

import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class AccountsConfig(AppConfig):
    """Logins, tenants and roles over Django's auth."""

    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every process (API, workers, beat, manage.py) says it, so nobody runs open by accident.
        if not settings.AUTH_REQUIRED:
            logger.warning(
                "DTLE_AUTH_REQUIRED=false: the /v2 API answers every request without a login; "
                "use this only on a single-user machine that nobody else can reach")
        if not settings.SECRET_KEY_FROM_ENV and not settings.DEBUG:
            logger.warning(
                "DTLE_SECRET_KEY is not set: using the development key made for this data directory "
                "(%s); set DTLE_SECRET_KEY for a deployment, the same on every host sharing the job "
                "store, or DTLE_DEBUG=true on a development machine",
                settings.DATA_DIR / "secret_key")
