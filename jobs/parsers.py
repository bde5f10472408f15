"""The JSON body parser: bounded in size and nesting, so hostile bodies answer 400, not 500."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant


def body_too_large() -> str:
    return f"body: larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes (DTLE_MAX_BODY_BYTES)"


class JSONParser(parsers.JSONParser):
    """DRF's strict JSON parser, reading at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes."""

    def parse(self, stream: IO[bytes] | None, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        if stream is None:
            return {}
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise ParseError(body_too_large())
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(raw.decode(encoding), parse_constant=strict_constant)
        except RecursionError as exc:
            raise ParseError("body: JSON nested too deeply") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"body: not valid JSON ({exc})") from exc
