"""Create, update, list, detail, pause and resume through the /v2 routes (job store only)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.models import Allocation, Job, Task, TaskEvent
from jobs.secrets import engine_config
from tests.support.api_examples import (
    DETAIL_ANSWER,
    LIST_ANSWER,
    MIGRATION_ANSWER,
    MIGRATION_REQUEST,
    SUBSCRIPTION_ANSWER,
    SUBSCRIPTION_REQUEST,
    assert_same_shape,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(api_client: APIClient) -> APIClient:
    return api_client


def create(client: APIClient, job_type: str, body: dict[str, Any], wrap: bool = True) -> Any:
    data = {f"{job_type}_job_config": body} if wrap else body
    return client.post(f"/v2/job/{job_type}", data, format="json")


@pytest.mark.parametrize("job_type", ["migration", "sync"])
def test_it_creates_a_mysql_job_shaped_as_the_document(client: APIClient, job_type: str) -> None:
    response = create(client, job_type, MIGRATION_REQUEST)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert_same_shape(body, MIGRATION_ANSWER)
    assert body["job"]["job_id"] == f"job1-{job_type}"
    assert body["job"]["src_task"]["mysql_connection_config"]["mysql_password"] == "*"
    assert body["job"]["dest_task"]["mysql_connection_config"]["mysql_password"] == "*"
    job = Job.objects.get(job_id=f"job1-{job_type}")
    assert job.job_type == job_type and job.status == "pending"
    assert sorted(Task.objects.filter(job=job).values_list("kind", "task_name")) == [
        ("dest", "dest"), ("src", "src")]


def test_it_creates_a_subscription_job_shaped_as_the_document(client: APIClient) -> None:
    response = create(client, "subscription", SUBSCRIPTION_REQUEST)
    assert response.status_code == 200, response.json()
    assert_same_shape(response.json(), SUBSCRIPTION_ANSWER)
    cfg = engine_config(Job.objects.get(job_id="job1-subscription"))
    assert cfg.dest_task.kafka_topic == "bss"
    assert cfg.dest_task.kafka_compression == "lz4"  # type: ignore[union-attr]


@pytest.mark.parametrize(("field", "value"), [
    ("kafka_broker_addrs", ["no-port"]), ("kafka_broker_addrs", ["host:70000"]),
    ("kafka_broker_addrs", []), ("kafka_topic", "bad topic"), ("kafka_topic", "t/x"),
    ("kafka_compression", "brotli"), ("kafka_compression", ""), ("kafka_compression", "snappy"),
])
def test_it_rejects_a_bad_kafka_dest_naming_the_field(client: APIClient, field: str,
                                                      value: Any) -> None:
    body = copy.deepcopy(SUBSCRIPTION_REQUEST)
    body["dest_task"][field] = value
    response = create(client, "subscription", body)
    assert response.status_code == 400
    assert field in response.json()["message"]
    assert not Job.objects.exists()


def test_it_accepts_broker_names_addresses_and_the_delivery_settings(client: APIClient) -> None:
    body = copy.deepcopy(SUBSCRIPTION_REQUEST)
    body["dest_task"]["kafka_broker_addrs"] = ["kafka-1.example:9092", "10.0.0.2:19092", "[::1]:9092"]
    body["dest_task"]["kafka_exactly_once"] = False
    body["dest_task"]["kafka_compression"] = "zstd"
    response = create(client, "subscription", body)
    assert response.status_code == 200, response.json()
    cfg = engine_config(Job.objects.get())
    assert cfg.dest_task.kafka_exactly_once is False  # type: ignore[union-attr]
    assert cfg.dest_task.kafka_compression == "zstd"  # type: ignore[union-attr]


def test_it_accepts_a_bare_config_body(client: APIClient) -> None:
    response = create(client, "migration", MIGRATION_REQUEST, wrap=False)
    assert response.status_code == 200, response.json()
    assert_same_shape(response.json(), MIGRATION_ANSWER)


def test_passwords_are_never_stored_plain(client: APIClient) -> None:
    body = copy.deepcopy(MIGRATION_REQUEST)
    body["src_task"]["mysql_connection_config"]["mysql_password"] = "s3cret-src"
    assert create(client, "migration", body).status_code == 200
    job = Job.objects.get(job_id="job1-migration")
    assert "s3cret-src" not in str(job.config)
    cfg = engine_config(job)
    assert cfg.src_task.mysql_connection_config.mysql_password == "s3cret-src"
    assert cfg.dest_task.mysql_connection_config.mysql_password == "test"


@pytest.mark.parametrize(("job_id", "stored"), [
    ("", "job1-migration"),
    ("abc", "abc-migration"),
    ("abc-migration", "abc-migration"),
])
def test_job_id_rule(client: APIClient, job_id: str, stored: str) -> None:
    response = create(client, "migration", {**MIGRATION_REQUEST, "job_id": job_id})
    assert response.status_code == 200
    assert response.json()["job"]["job_id"] == stored
    assert list(Job.objects.values_list("job_id", flat=True)) == [stored]


def test_create_on_an_existing_id_updates_it(client: APIClient) -> None:
    first = create(client, "migration", MIGRATION_REQUEST).json()
    body = copy.deepcopy(MIGRATION_REQUEST)
    body["src_task"]["chunk_size"] = 500
    second = client.post("/v2/job/migration/update", {"migration_job_config": body},
                         format="json").json()
    assert second["job"]["src_task"]["chunk_size"] == 500
    assert second["job_modify_index"] > first["job_modify_index"]
    job = Job.objects.get()
    assert job.version == 2 and job.config["src_task"]["chunk_size"] == 500
    assert Task.objects.filter(job=job).count() == 2


def bad_request(client: APIClient, url: str, data: Any, fmt: str = "json") -> str:
    response = client.post(url, data, format=fmt)
    assert response.status_code == 400, response.json()
    assert set(response.json()) == {"message"}
    return str(response.json()["message"])


@pytest.mark.parametrize(("body", "field"), [
    ({**MIGRATION_REQUEST, "job_id": "abc-sync"}, "job_id"),
    ({**MIGRATION_REQUEST, "job_id": "x" * 60}, "job_id"),
    ({**MIGRATION_REQUEST, "colour": "red"}, "colour"),
    ({**MIGRATION_REQUEST, "src_task": {"task_name": "src"}},
     "src_task.mysql_connection_config"),
    ({**MIGRATION_REQUEST, "dest_task": {**MIGRATION_REQUEST["dest_task"], "parallel_workers": "x"}},
     "dest_task.parallel_workers"),
    ({**MIGRATION_REQUEST, "src_task": {**MIGRATION_REQUEST["src_task"], "replicate_do_db": [
        {"table_schema_regex": "db(.*)"}]}}, "src_task.replicate_do_db[0].table_schema_rename"),
])
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(
    client: APIClient, body: dict[str, Any], field: str
) -> None:
    message = bad_request(client, "/v2/job/migration", {"migration_job_config": body})
    assert message.startswith(f"{field}:"), message
    assert Job.objects.count() == 0 and Task.objects.count() == 0


def test_a_wrapper_of_another_type_is_refused(client: APIClient) -> None:
    message = bad_request(client, "/v2/job/migration", {"sync_job_config": MIGRATION_REQUEST})
    assert message.startswith("sync_job_config:")
    assert Job.objects.count() == 0


def test_a_body_that_is_not_an_object_is_refused(client: APIClient) -> None:
    assert bad_request(client, "/v2/job/migration", [1, 2])
    response = client.post("/v2/job/migration", "{not json", content_type="application/json")
    assert response.status_code == 400 and "message" in response.json()


def test_list_and_filters(client: APIClient) -> None:
    create(client, "migration", MIGRATION_REQUEST)
    create(client, "sync", {**MIGRATION_REQUEST, "job_name": "job2"})
    create(client, "subscription", SUBSCRIPTION_REQUEST)
    body = client.get("/v2/jobs").json()
    assert_same_shape(body, LIST_ANSWER)

    def ids(url: str) -> list[str]:
        response = client.get(url)
        assert response.status_code == 200, response.json()
        return [job["job_id"] for job in response.json()["jobs"]]

    assert ids("/v2/jobs") == ["job1-migration", "job1-subscription", "job2-sync"]
    assert ids("/v2/jobs?filter_job_type=sync") == ["job2-sync"]
    assert ids("/v2/jobs/subscription") == ["job1-subscription"]
    assert ids("/v2/jobs?filter_job_id=job1") == ["job1-migration", "job1-subscription"]
    assert ids("/v2/jobs?filter_job_dest_port=3308") == ["job1-migration", "job2-sync"]
    assert ids("/v2/jobs?filter_job_src_ip=10.186.63.28&filter_job_src_port=3307") == [
        "job1-migration", "job1-subscription", "job2-sync"]
    assert ids("/v2/jobs?filter_job_src_ip=10.0.0.1") == []
    assert ids("/v2/jobs?filter_job_status=paused") == []
    assert client.get("/v2/jobs?filter_job_type=bogus").status_code == 400


def test_detail_is_shaped_as_the_document(client: APIClient) -> None:
    create(client, "migration", MIGRATION_REQUEST)
    task = Task.objects.get(job_id="job1-migration", kind="src")
    allocation = Allocation.objects.create(task=task, status="running", started_at=timezone.now())
    TaskEvent.objects.create(allocation=allocation, event_type="Received",
                             message="Task received by client")
    dest = Task.objects.get(job_id="job1-migration", kind="dest")
    Allocation.objects.create(task=dest)
    TaskEvent.objects.create(allocation=dest.allocations.get(), event_type="Received")
    response = client.get("/v2/job/migration/detail", {"job_id": "job1-migration"})
    assert response.status_code == 200, response.json()
    body = response.json()
    assert_same_shape(body, DETAIL_ANSWER)
    dest_alloc = body["dest_task_detail"]["allocations"][0]["task_status"]
    assert dest_alloc["started_at"] == "0001-01-01T00:00:00Z"
    assert body["src_task_detail"]["allocations"][0]["allocation_id"] == str(
        allocation.allocation_id)


def test_detail_of_an_unknown_job_is_404_and_of_another_type_409(client: APIClient) -> None:
    assert client.get("/v2/job/sync/detail", {"job_id": "nope-sync"}).status_code == 404
    create(client, "migration", MIGRATION_REQUEST)
    response = client.get("/v2/job/sync/detail", {"job_id": "job1-migration"})
    assert response.status_code == 409
    assert "migration" in response.json()["message"]
    assert client.get("/v2/job/sync/detail").status_code == 400


def test_pause_and_resume_change_state_and_are_idempotent(client: APIClient) -> None:
    create(client, "migration", MIGRATION_REQUEST)
    for _ in range(2):
        response = client.post("/v2/job/pause", {"job_id": "job1-migration"})  # form field
        assert response.status_code == 200 and response.json() == {"message": "ok"}
        job = Job.objects.get()
        assert (job.desired_state, job.status) == ("paused", "paused")
    for _ in range(2):
        response = client.post("/v2/job/migration/resume", {"job_id": "job1-migration"},
                               format="json")
        assert response.status_code == 200 and response.json() == {"message": "ok"}
        job = Job.objects.get()
        assert (job.desired_state, job.status) == ("running", "pending")


def test_state_changes_on_unknown_or_conflicting_jobs(client: APIClient) -> None:
    assert client.post("/v2/job/pause", {"job_id": "nope"}).status_code == 404
    assert client.post("/v2/job/pause", {}).status_code == 400
    create(client, "migration", MIGRATION_REQUEST)
    assert client.post("/v2/job/sync/pause", {"job_id": "job1-migration"}).status_code == 409
    Job.objects.update(desired_state="deleted")
    response = client.post("/v2/job/resume", {"job_id": "job1-migration"})
    assert response.status_code == 409
    assert Job.objects.get().desired_state == "deleted"
    assert create(client, "migration", MIGRATION_REQUEST).status_code == 409


def test_an_unknown_allocation_id_is_refused(client: APIClient) -> None:
    assert client.get("/v2/monitor/task", {"allocation_id": "x"}).status_code == 400
    response = client.get("/v2/monitor/task", {"allocation_id": str(uuid.uuid4()),
                                                "task_name": "src"})
    assert response.status_code == 404 and "does not exist" in response.json()["message"]


def test_a_form_with_the_config_as_json_text_is_accepted(client: APIClient) -> None:
    import json

    response = client.post("/v2/job/sync", {"sync_job_config": json.dumps(MIGRATION_REQUEST)})
    assert response.status_code == 200, response.json()
    assert response.json()["job"]["job_id"] == "job1-sync"
    broken = client.post("/v2/job/sync", {"sync_job_config": "{oops"})
    assert broken.status_code == 400 and broken.json()["message"].startswith("sync_job_config:")
    assert list(Job.objects.values_list("job_id", flat=True)) == ["job1-sync"]


def test_detail_ignores_extra_query_parameters(client: APIClient) -> None:
    create(client, "migration", MIGRATION_REQUEST)
    response = client.get("/v2/job/migration/detail?job_id=job1-migration&format=json")
    assert response.status_code == 200 and response.json()["job_id"] == "job1-migration"
