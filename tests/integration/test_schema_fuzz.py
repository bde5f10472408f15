"""Requests from the project's own OpenAPI document: no route answers 5xx or a traceback, every
answer matches the document, and most requests the document calls valid are accepted.

schemathesis generates requests for every operation (valid and invalid against the schema, a
bounded number each) and sends them in-process, logged in as a platform superuser. The MySQL
routes connect for real, but to a local sandbox server whatever host the request names, so no
generated address is ever contacted.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from replication import mysql
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.auth import make_user, token_for
from tests.support.redis_urls import REDIS_TEST_URL

EXAMPLES_PER_OPERATION = 10
RESPONSE_CHECKS = [response_schema_conformance, status_code_conformance, content_type_conformance]
# Per operation, the requests generated as valid and how many of them answered 400. A valid
# request may still name a job, table or allocation that does not exist (404), or carry a
# password that does not decrypt (400); most must get through validation all the same.
SENT_VALID: dict[str, Counter[str]] = defaultdict(Counter)

schema = schemathesis.openapi.from_wsgi("/swagger/doc.json", get_wsgi_application())
schema.config.generation.update(modes=["positive", "negative"], with_security_parameters=False,
                                max_examples=EXAMPLES_PER_OPERATION, database="none",
                                no_shrink=True)
# The coverage phase adds boundary cases per field beyond max_examples: hundreds per job
# config. The fuzzing phase alone keeps the run bounded.
schema.config.phases.update(phases=["examples", "fuzzing"])


@pytest.fixture(scope="module")
def local_mysql(source_server: MariaDBServer) -> Iterator[MariaDBServer]:
    yield source_server


@pytest.fixture
def sandboxed(local_mysql: MariaDBServer, monkeypatch: pytest.MonkeyPatch,
              settings: Any) -> Iterator[dict[str, str]]:
    """Connections go to the sandbox; Redis to the tests' database; a token for the calls."""
    real_connect = pymysql.connect

    def to_sandbox(**kwargs: Any) -> pymysql.connections.Connection:
        kept = {k: v for k, v in kwargs.items() if not k.startswith("ssl_")}
        kept.update(host="127.0.0.1", port=local_mysql.port, user="root", password="")
        return real_connect(**kept)

    monkeypatch.setattr(mysql.pymysql, "connect", to_sandbox)
    settings.REDIS_URL = REDIS_TEST_URL
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "schema-fuzz"}}
    levels = {name: logging.getLogger(name).level for name in ("replication", "jobs", "dtleweb")}
    yield {"Authorization": f"Bearer {token_for(make_user('fuzz', superuser=True))}"}
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.django_db
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_generated_request_gets_a_server_error(case: Any, sandboxed: dict[str, str]) -> None:
    response = case.call(headers=sandboxed)
    body = response.text
    assert response.status_code < 500 or response.status_code == 502, (
        case.as_curl_command(), response.status_code, body[:500])
    assert "Traceback" not in body, (case.as_curl_command(), body[:500])
    case.validate_response(response, checks=RESPONSE_CHECKS)
    if case.meta is not None and case.meta.generation.mode is GenerationMode.POSITIVE:
        counts = SENT_VALID[f"{case.method.upper()} {case.path}"]
        counts["sent"] += 1
        counts["rejected"] += response.status_code == 400


def test_most_requests_the_document_calls_valid_are_accepted() -> None:
    """Runs after the test above (pytest keeps a module's order): the document states the rules
    the API enforces, so data it calls valid is mostly accepted."""
    operations = {f"{op.method.upper()} {op.path}" for op in
                  (result.ok() for result in schema.get_all_operations())}
    assert set(SENT_VALID) == operations, "needs the fuzz test of every operation to run first"
    rejected = {op: f"{c['rejected']} of {c['sent']}" for op, c in SENT_VALID.items()
                if c["rejected"] * 2 > c["sent"]}
    assert rejected == {}
