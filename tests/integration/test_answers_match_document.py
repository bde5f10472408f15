"""Every route's real answer, with real jobs, allocations, events, nodes and stats behind it,
matches the schema the OpenAPI document gives for it (the fuzz test mostly meets empty stores).

The MySQL routes' answers are checked against a sandbox server in test_schema_fuzz.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.utils import timezone
from werkzeug.test import Client, TestResponse

from jobs import events
from jobs.models import Job, Node
from replication.stats import StatsStore, TaskStats
from tests.support.auth import make_user, token_for
from tests.support.redis_urls import REDIS_TEST_URL

pytestmark = pytest.mark.django_db(transaction=True)

APP = get_wsgi_application()
SCHEMA = schemathesis.openapi.from_wsgi("/swagger/doc.json", APP)
LOGGERS = ("replication", "jobs", "dtleweb", "accounts")


def _conn(port: int) -> dict[str, Any]:
    return {"mysql_host": "127.0.0.1", "mysql_port": port, "mysql_user": "root", "mysql_password": "pw"}


@pytest.fixture
def api(settings: Any) -> Iterator[Any]:
    settings.REDIS_URL = REDIS_TEST_URL
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    user = make_user("checker", superuser=True)
    headers = {"Authorization": f"Bearer {token_for(user)}"}
    wsgi = Client(APP)

    def call(method: str, path: str, **kwargs: Any) -> Any:
        response: TestResponse = wsgi.open(path, method=method, headers=headers, **kwargs)
        assert response.status_code == 200, response.get_data(as_text=True)
        SCHEMA[path][method].validate_response(response)
        return response.json

    call.password = user.plain_password  # type: ignore[attr-defined]
    yield call
    client.flushdb()
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _running_job(api: Any, job_type: str, dest: dict[str, Any]) -> Job:
    config = {"job_name": "shape", "src_task": {"mysql_connection_config": _conn(3306),
                                                "replicate_do_db": [{"table_schema": "db1"}]},
              "dest_task": dest}
    created = api("POST", f"/v2/job/{job_type}", json={f"{job_type}_job_config": config})
    job = Job.objects.get(pk=created["job"]["job_id"])
    node = Node.objects.create(node_id="n1", node_name="host", queue="node.n1",
                               last_heartbeat=timezone.now())
    for task in job.tasks.all():
        allocation = task.place(node, job.version)
        allocation.start()
        events.record(allocation.allocation_id, *events.STARTED)
        StatsStore(redis.Redis.from_url(REDIS_TEST_URL)).publish(
            str(allocation.allocation_id), TaskStats(), force=True)
    return job


def test_job_answers_match_the_document(api: Any) -> None:
    job = _running_job(api, "migration", {"mysql_connection_config": _conn(3307)})
    query = {"job_id": job.job_id}
    detail = api("GET", "/v2/job/migration/detail", query_string=query)
    assert detail["src_task_detail"]["allocations"][0]["task_status"]["task_events"]
    api("GET", "/v2/jobs")
    api("GET", "/v2/jobs/migration", query_string={"filter_job_status": "running"})
    api("GET", "/v2/job/gtid", query_string=query)
    allocation = detail["dest_task_detail"]["allocations"][0]["allocation_id"]
    monitor = api("GET", "/v2/monitor/task", query_string={"allocation_id": allocation})
    assert "current_coordinates" in monitor["tasks_status"]
    api("GET", "/v2/nodes")
    api("POST", "/v2/job/pause", data=query)
    api("POST", "/v2/job/migration/resume", json=query)
    api("POST", "/v2/log/level", json={"dtle_log_level": "INFO"})
    api("POST", "/v2/job/delete", data=query)


def test_a_subscription_answers_with_its_kafka_dest(api: Any) -> None:
    job = _running_job(api, "subscription", {"kafka_broker_addrs": ["127.0.0.1:9092"],
                                             "kafka_topic": "shape"})
    detail = api("GET", "/v2/job/subscription/detail", query_string={"job_id": job.job_id})
    assert detail["dest_task_detail"]["task_config"]["kafka_topic"] == "shape"


def test_validation_answers_match_the_document(api: Any) -> None:
    bad = api("POST", "/v2/validation/job", json={"job_config": {"job_name": "x"}})
    assert bad["driver_config_validated"] is False
    config = {"job_name": "x", "src_task": {"mysql_connection_config": _conn(1)},
              "dest_task": {"mysql_connection_config": _conn(1)}}
    closed = api("POST", "/v2/validation/job", json={"job_config": config})
    assert closed["mysql_task_validation_report"][0]["connection_validation"]["validated"] is False


def test_the_login_answer_matches_the_document(api: Any) -> None:
    answer = api("POST", "/v2/login", json={"tenant": "platform", "username": "checker",
                                            "password": api.password})
    assert answer["data"]["token"]
