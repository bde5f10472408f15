"""The project's log level, changed at once in every process: the API's, each worker's and each
running task's (``POST /v2/log/level``). The level is kept in Redis; workers and tasks pick it
up on their next heartbeat or stop check."""

from __future__ import annotations

import logging

from jobs.coordination import as_text, get_redis

LOG_LEVELS = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO,
              "WARN": logging.WARNING, "ERROR": logging.ERROR}
PROJECT_LOGGERS = ("replication", "jobs", "dtleweb", "accounts")  # those settings.LOGGING sets
LOG_LEVEL_KEY = "dtle:log_level"

_applied: dict[str, str] = {}


def apply(name: str) -> None:
    """Set the project's loggers in this process."""
    for logger_name in PROJECT_LOGGERS:
        logging.getLogger(logger_name).setLevel(LOG_LEVELS[name])
    _applied["level"] = name


def publish(name: str) -> None:
    """Apply here and tell every other process."""
    apply(name)
    get_redis().set(LOG_LEVEL_KEY, name)


def follow(raw: object) -> None:
    """Apply a level read from ``LOG_LEVEL_KEY`` if it differs from this process's."""
    name = as_text(raw)
    if name in LOG_LEVELS and _applied.get("level") != name:
        apply(name)
