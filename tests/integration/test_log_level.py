"""POST /v2/log/level changes the level at once, here and in every worker and task process."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import redis
from rest_framework.test import APIClient

from jobs import loglevel
from tests.support.api_examples import LOG_LEVEL_ANSWER, assert_same_shape
from tests.support.redis_urls import REDIS_TEST_URL

pytestmark = pytest.mark.django_db
NAMES = ("replication", "jobs", "dtleweb", "accounts")


@pytest.fixture(autouse=True)
def project_levels(settings: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    settings.REDIS_URL = REDIS_TEST_URL
    before = {name: logging.getLogger(name).level for name in NAMES}
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.delete(loglevel.LOG_LEVEL_KEY)
    yield client
    client.delete(loglevel.LOG_LEVEL_KEY)
    for name, level in before.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize(("given", "level"), [
    ("DEBUG", logging.DEBUG), ("TRACE", logging.DEBUG), ("WARN", logging.WARNING),
    ("error", logging.ERROR),
])
def test_log_level_changes_the_project_loggers(given: str, level: int,
                                               api_client: APIClient) -> None:
    response = api_client.post("/v2/log/level", {"dtle_log_level": given.upper()})
    assert response.status_code == 200, response.json()
    assert_same_shape(response.json(), LOG_LEVEL_ANSWER)
    assert response.json()["dtle_log_level"] == given.upper()
    for name in NAMES:
        assert logging.getLogger(name).level == level


def test_other_processes_follow_the_shared_level(project_levels: redis.Redis,
                                                  api_client: APIClient) -> None:
    api_client.post("/v2/log/level", {"dtle_log_level": "ERROR"})
    for name in NAMES:  # as a worker process that has not heard of it yet
        logging.getLogger(name).setLevel(logging.INFO)
    loglevel._applied.clear()
    loglevel.follow(project_levels.get(loglevel.LOG_LEVEL_KEY))
    assert all(logging.getLogger(name).level == logging.ERROR for name in NAMES)


def test_an_unknown_log_level_is_refused(project_levels: redis.Redis,
                                          api_client: APIClient) -> None:
    before = logging.getLogger("jobs").level
    response = api_client.post("/v2/log/level", {"dtle_log_level": "LOUD"}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("dtle_log_level:")
    assert logging.getLogger("jobs").level == before
    assert project_levels.get(loglevel.LOG_LEVEL_KEY) is None
