"""MySQL passwords at rest: encrypted in the job store, masked in every answer.

Stored configs hold each ``mysql_password`` as a Fernet token keyed from ``settings.SECRET_KEY``
(``DTLE_SECRET_KEY``), so the database never holds a plain password. ``engine_config`` is the one
place that turns a stored job back into the engine's config with plain passwords.
"""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Iterator
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from jobs.models import Job
from jobs.serializers import to_job_config
from replication.config import JobConfig
from replication.errors import ConfigError

MASK = "*"


def _fernet() -> Fernet:
    digest = hashlib.sha256(settings.SECRET_KEY.encode("utf-8")).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_password(plain: str) -> str:
    return _fernet().encrypt(plain.encode("utf-8")).decode("ascii")


def decrypt_password(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise ConfigError(
            "a stored password cannot be decrypted; was DTLE_SECRET_KEY changed?"
        ) from exc


def _connections(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for side in ("src_task", "dest_task"):
        conn = (config.get(side) or {}).get("mysql_connection_config")
        if isinstance(conn, dict):
            yield conn


def _with_passwords(config: dict[str, Any], change: Any) -> dict[str, Any]:
    result = copy.deepcopy(config)
    for conn in _connections(result):
        conn["mysql_password"] = change(conn.get("mysql_password", ""))
    return result


def seal_config(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a validated config (plain passwords) with every password encrypted."""
    return _with_passwords(config, encrypt_password)


def masked_config(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a config with every password shown as ``"*"``."""
    return _with_passwords(config, lambda _password: MASK)


def plain_config(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored config with every password decrypted."""
    return _with_passwords(config, decrypt_password)


def engine_config(job: Job) -> JobConfig:
    """The engine's frozen config of a stored job, with plain passwords."""
    return to_job_config(plain_config(job.config), job.job_type)
