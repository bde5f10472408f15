"""A logging filter that blanks passwords out of log lines.

dtle's clients send ``mysql_password`` in the query string of ``GET /v2/mysql/*``, and the
development server logs every request line; this filter turns ``password=...`` into
``password=***`` in any record it sees, message and arguments alike.
"""

from __future__ import annotations

import logging
import re

_SECRET = re.compile(r"((?:password|token)=)[^&\s\"']*", re.IGNORECASE)


def redact(text: str) -> str:
    return _SECRET.sub(r"\1***", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True
