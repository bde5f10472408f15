"""Passwords in query strings are blanked in every log line the project's handlers write."""

from __future__ import annotations

import logging

from dtleweb.logredact import RedactSecrets, redact


def test_password_and_token_parameters_are_blanked() -> None:
    line = '"GET /v2/mysql/schemas?mysql_host=h&mysql_password=s3cret&x=1 HTTP/1.1" 200'
    assert redact(line) == '"GET /v2/mysql/schemas?mysql_host=h&mysql_password=***&x=1 HTTP/1.1" 200'
    assert redact("token=abc.def password=p") == "token=*** password=***"


def test_the_filter_rewrites_message_and_arguments() -> None:
    record = logging.LogRecord("django.server", logging.INFO, __file__, 1, '"%s" %s',
                               ("GET /x?mysql_password=hunter2 HTTP/1.1", 200), None)
    assert RedactSecrets().filter(record)
    assert "hunter2" not in record.getMessage()
