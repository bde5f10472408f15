"""The API document's subscription examples over HTTP against real processes (the API, a
Celery worker node, beat, Redis, MariaDB and a Kafka-protocol broker): create, show, pause,
resume, update and delete a running subscription, and what a consumer reads meanwhile."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from replication.sinks.kafka.broker import read_topic
from scripts.cluster import Cluster, wait_for
from scripts.kafka_sandbox import KafkaBroker
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.e2e import wait_released
from tests.support.redis_urls import E2E_REDIS_URL

NODE = "node-k"
NODES = (NODE,)  # the deployment of tests/integration/conftest.py


def _example_config(name: str, source: MariaDBServer, broker: KafkaBroker, schema: str,
                    topic: str) -> dict[str, Any]:
    """The API document's ``subscription_job_config`` example, pointed at the test's servers."""
    conn = source.connection_config()
    return {
        "is_mysql_password_encrypted": False,
        "failover": True,
        "dest_task": {"kafka_broker_addrs": [broker.bootstrap], "kafka_topic": topic,
                      "task_name": "dest"},
        "job_name": name,
        "src_task": {
            "mysql_connection_config": {"mysql_host": conn["mysql_host"],
                                        "mysql_password": conn["mysql_password"],
                                        "mysql_port": conn["mysql_port"],
                                        "mysql_user": conn["mysql_user"]},
            "replicate_do_db": [{"table_schema": schema, "tables": [{"table_name": "tb1"}]}],
            "task_name": "src",
        },
    }


def _ids(broker: KafkaBroker, topic: str) -> list[int]:
    """The ids of every created row, in topic order (read committed, from the start)."""
    ids = []
    for record in read_topic([broker.bootstrap], topic):
        if record.value is not None:
            payload = json.loads(record.value)["payload"]
            if payload["op"] == "c":
                ids.append(payload["after"]["id"])
    return ids


def _insert(source: MariaDBServer, schema: str, ids: range) -> None:
    source.execute(f"INSERT INTO `{schema}`.tb1 (id, v) VALUES "
                   + ", ".join(f"({i}, 'v{i}')" for i in ids))


def _tasks_stopped(cluster: Cluster, job_id: str) -> bool:
    for side in ("src", "dest"):
        alloc = cluster.allocation(job_id, side)
        if alloc and alloc["task_status"]["status"] == "running":
            return False
    return True


@pytest.mark.slow
def test_the_documents_subscription_examples_create_show_pause_resume_update_delete(
        cluster: Cluster, source_server: MariaDBServer, kafka_broker: KafkaBroker) -> None:
    schema, topic = f"e2e_{uuid.uuid4().hex[:8]}", f"bss{uuid.uuid4().hex[:6]}"
    source_server.execute(f"CREATE DATABASE `{schema}`")
    source_server.execute(f"CREATE TABLE `{schema}`.tb1 (id INT PRIMARY KEY, v VARCHAR(20))")
    source_server.execute(f"CREATE TABLE `{schema}`.other (id INT PRIMARY KEY)")
    _insert(source_server, schema, range(1, 101))
    name = f"job{uuid.uuid4().hex[:6]}"
    config = _example_config(name, source_server, kafka_broker, schema, topic)
    rows_topic = f"{topic}.{schema}.tb1"

    created = cluster.post("/v2/job/subscription", config)["job"]
    job_id = created["job_id"]
    assert job_id == f"{name}-subscription"
    assert created["dest_task"]["kafka_topic"] == topic
    assert created["dest_task"]["message_group_max_size"] == 1  # defaults filled in
    wait_for(lambda: any("job_stage_incr" in e for e in cluster.events(job_id, "dest")), 120,
             "the subscription to reach incremental")
    wait_for(lambda: _ids(kafka_broker, rows_topic) == list(range(1, 101)), 30, "the snapshot")

    detail = cluster.get("/v2/job/subscription/detail", job_id=job_id)
    assert detail["job_id"] == job_id and detail["job_name"] == name
    assert detail["dest_task_detail"]["task_config"]["kafka_broker_addrs"] == [kafka_broker.bootstrap]
    assert detail["dest_task_detail"]["allocations"][-1]["task_status"]["status"] == "running"

    _insert(source_server, schema, range(101, 111))
    wait_for(lambda: _ids(kafka_broker, rows_topic) == list(range(1, 111)), 30, "new rows")
    monitor = wait_for(lambda: (m := cluster.monitor(job_id, "dest"))["exec_master_tx_count"] and m,
                       30, "the dest's monitor to count the new transaction")
    assert monitor["exec_master_row_count"] >= 110
    assert monitor["current_coordinates"]["gtid_set"]

    cluster.post("/v2/job/pause", job_id=job_id)
    wait_for(lambda: _tasks_stopped(cluster, job_id), 30, "both tasks to stop")
    listed = next(j for j in cluster.get("/v2/jobs")["jobs"] if j["job_id"] == job_id)
    assert listed["job_status"] == "paused"
    wait_released(job_id, E2E_REDIS_URL)  # a task that let go of its lease publishes nothing more
    _insert(source_server, schema, range(111, 121))
    assert _ids(kafka_broker, rows_topic) == list(range(1, 111))  # nothing while paused

    cluster.post("/v2/job/resume", job_id=job_id)
    wait_for(lambda: _ids(kafka_broker, rows_topic) == list(range(1, 121)), 90,
             "the resumed subscription to publish what it missed, once")

    first_dest = cluster.allocation(job_id, "dest")["allocation_id"]
    config["dest_task"]["message_group_timeout"] = 50
    updated = cluster.post("/v2/job/subscription", config)["job"]
    assert updated["job_id"] == job_id and updated["dest_task"]["message_group_timeout"] == 50
    wait_for(lambda: (a := cluster.allocation(job_id, "dest")) and a["allocation_id"] != first_dest
             and a["task_status"]["status"] == "running", 60, "the updated job's new allocation")
    _insert(source_server, schema, range(121, 131))
    wait_for(lambda: _ids(kafka_broker, rows_topic) == list(range(1, 131)), 60,
             "the updated subscription to go on from its checkpoint")
    assert cluster.events(job_id, "dest").count("Driver:job_stage_full") == 1

    cluster.post("/v2/job/delete", job_id=job_id)
    status, _ = cluster.request("GET", "/v2/job/subscription/detail", params={"job_id": job_id})
    assert status == 404
    wait_released(job_id, E2E_REDIS_URL)
    _insert(source_server, schema, range(131, 141))
    assert _ids(kafka_broker, rows_topic) == list(range(1, 131))
    assert not any(r.value and b'"other"' in r.value
                   for r in read_topic([kafka_broker.bootstrap], f"schema-changes.{topic}"))


