"""``GET /health``: open to load balancers and orchestrators, says only whether this API process
can reach its job store and Redis (200), or which of them it cannot (503)."""

from __future__ import annotations

import logging

import redis
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse

from jobs.coordination import get_redis

logger = logging.getLogger(__name__)


def _problems() -> list[str]:
    problems = []
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        logger.warning("health: the job store is unreachable: %s", exc)
        problems.append("the job store is unreachable")
    try:
        get_redis().ping()
    except redis.RedisError as exc:
        logger.warning("health: Redis is unreachable: %s", exc)
        problems.append("Redis is unreachable")
    return problems


def health_view(request: HttpRequest) -> JsonResponse:
    problems = _problems()
    if problems:
        return JsonResponse({"message": "; ".join(problems)}, status=503)
    return JsonResponse({"message": "ok"})
