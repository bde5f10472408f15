"""API exceptions and the one handler that shapes every error as dtle's ``{"message": ...}``."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from jobs.parsers import body_too_large
from replication import errors as engine

logger = logging.getLogger(__name__)


class BadRequest(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "bad request"


class JobNotFound(APIException):
    status_code = status.HTTP_404_NOT_FOUND
    default_detail = "job not found"


class NotFound(APIException):
    status_code = status.HTTP_404_NOT_FOUND
    default_detail = "not found"


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "the job is in a state that does not allow this"


class Unreachable(APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "a database could not be reached"


_ENGINE_STATUS = {
    engine.ConfigError: status.HTTP_400_BAD_REQUEST,
    engine.ConnectError: status.HTTP_502_BAD_GATEWAY,
    engine.SourceError: status.HTTP_400_BAD_REQUEST,
}


def first_message(detail: Any, path: str = "") -> str:
    """One readable sentence out of DRF's nested error detail, naming the field."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int) or str(key).isdigit():
                name = f"{path}[{key}]"  # an item of a list field
            elif key in ("non_field_errors",):
                name = path
            else:
                name = f"{path}.{key}" if path else str(key)
            return first_message(value, name)
    if isinstance(detail, list) and detail:
        if all(not isinstance(item, (dict, list)) for item in detail):
            return first_message(detail[0], path)
        for index, item in enumerate(detail):
            if item:
                return first_message(item, f"{path}[{index}]")
    text = str(detail)
    return f"{path}: {text}" if path else text


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn API and engine errors into ``{"message": sentence}`` with the right status."""
    for cls, code in _ENGINE_STATUS.items():
        if isinstance(exc, cls):
            return Response({"message": str(exc)}, status=code)
    if isinstance(exc, RequestDataTooBig):
        return Response({"message": body_too_large()}, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, TooManyFieldsSent):
        return Response({"message": "body: too many form fields"},
                        status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled error in %s", context.get("view"))
        return Response({"message": "internal error; see the server log"}, status=500)
    if isinstance(exc, ValidationError):
        message = first_message(exc.detail)
    else:
        message = str(getattr(exc, "detail", exc))
    response.data = {"message": message}
    return response
