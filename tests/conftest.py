"""Shared fixtures: throw-away MariaDB servers, a Redis database, a clean schema per test.

Servers are started once per test session (starting one takes about two seconds) and each test
that changes data gets fresh schemas through ``fresh_schema``. Redis tests use database 15 with
keys under a per-test job id, so they never touch the default database that a running system uses;
the end-to-end tests use database 13 (``tests/support/redis_urls.py`` says how to move them).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from rest_framework.test import APIClient

from scripts.kafka_sandbox import KafkaBroker
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.redis_urls import REDIS_TEST_URL


@pytest.fixture(scope="session")
def source_server() -> Iterator[MariaDBServer]:
    """A MariaDB source with binlog on, ROW format, FULL row image, server id 101, and
    MariaDB's default row metadata (NO_LOG)."""
    with MariaDBServer(server_id=101) as server:
        yield server


@pytest.fixture(scope="session")
def full_metadata_server() -> Iterator[MariaDBServer]:
    """A MariaDB source whose binlog carries FULL row metadata (column names, charsets)."""
    with MariaDBServer(server_id=104, row_metadata="FULL") as server:
        yield server


@pytest.fixture(scope="session")
def minimal_metadata_server() -> Iterator[MariaDBServer]:
    """A MariaDB source with MINIMAL row metadata (charsets and signedness, no names)."""
    with MariaDBServer(server_id=105, row_metadata="MINIMAL") as server:
        yield server


@pytest.fixture(scope="session")
def target_server() -> Iterator[MariaDBServer]:
    """A MariaDB target with server id 102."""
    with MariaDBServer(server_id=102) as server:
        yield server


@pytest.fixture(scope="session")
def plain_server() -> Iterator[MariaDBServer]:
    """A MariaDB server with the binlog off, to see validation refuse it."""
    with MariaDBServer(server_id=103, log_bin=False) as server:
        yield server


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """A Kafka-protocol broker (noida-db) with consumer groups and transactions."""
    with KafkaBroker() as broker:
        yield broker


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_TEST_URL)
    yield client
    client.close()


@pytest.fixture
def job_id() -> str:
    """A unique job id, so keys and checkpoint rows of different tests never meet."""
    return f"t{uuid.uuid4().hex[:10]}-migration"


@pytest.fixture
def fresh_schema(source_server: MariaDBServer, target_server: MariaDBServer) -> Iterator[str]:
    """A schema name unique to the test, dropped on both servers afterwards."""
    name = f"db_{uuid.uuid4().hex[:8]}"
    yield name
    for server in (source_server, target_server):
        server.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Users made by tests hash their passwords cheaply; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_client(db: None) -> APIClient:
    """An API client logged in as a platform superuser, who sees every job."""
    from tests.support.auth import client_for, make_user

    return client_for(make_user("admin", superuser=True))
