"""Routes that reach Redis or MySQL: delete, monitor, gtid, validation, MySQL inspection."""

from __future__ import annotations

import base64
import copy
import socket
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.test import override_settings
from rest_framework.test import APIClient

from jobs.models import Allocation, Job, Task, TaskEvent
from replication.sinks.mysql.checkpoint import INSERT_SQL, ensure_table
from replication.stats import StatsStore, TaskStats, stats_key
from replication.wire.transport import RedisTransport, stream_key
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.api_examples import (
    MIGRATION_REQUEST,
    MONITOR_ANSWER,
    SCHEMAS_ANSWER,
    VALIDATION_ANSWER,
    assert_same_shape,
    pointed_at,
)
from tests.support.redis_urls import REDIS_TEST_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(settings: Any, api_client: APIClient) -> APIClient:
    settings.REDIS_URL = REDIS_TEST_URL
    return api_client


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_job(client: APIClient, job_name: str, src: dict[str, Any],
               dest: dict[str, Any]) -> str:
    body = {**pointed_at(MIGRATION_REQUEST, src, dest), "job_name": job_name}
    response = client.post("/v2/job/migration", {"migration_job_config": body}, format="json")
    assert response.status_code == 200, response.json()
    return str(response.json()["job"]["job_id"])


def allocate(job_id: str, kind: str) -> Allocation:
    allocation = Allocation.objects.create(task=Task.objects.get(job_id=job_id, kind=kind))
    TaskEvent.objects.create(allocation=allocation, event_type="Received")
    return allocation


@pytest.fixture
def job(client: APIClient, job_id: str) -> str:
    # Nothing listens there: the gtid route falls back to the published stats.
    src = {"mysql_host": "127.0.0.1", "mysql_port": closed_port(), "mysql_user": "root",
           "mysql_password": ""}
    return create_job(client, job_id.removesuffix("-migration"), src, src)


def test_delete_removes_the_job_its_stream_and_its_stats(
    client: APIClient, job: str, redis_client: redis.Redis
) -> None:
    allocation = allocate(job, "src")
    RedisTransport(redis_client, job).send({"hello": 1})
    StatsStore(redis_client).publish(str(allocation.allocation_id), TaskStats(), force=True)
    response = client.post("/v2/job/delete", {"job_id": job})
    assert response.status_code == 200 and response.json() == {"message": "ok"}
    assert not Job.objects.filter(job_id=job).exists()
    assert not Task.objects.filter(job_id=job).exists()
    assert not Allocation.objects.exists() and not TaskEvent.objects.exists()
    assert redis_client.exists(stream_key(job)) == 0
    assert redis_client.exists(stats_key(str(allocation.allocation_id))) == 0
    assert client.post("/v2/job/delete", {"job_id": job}).status_code == 404


def test_monitor_reads_the_published_record(
    client: APIClient, job: str, redis_client: redis.Redis
) -> None:
    allocation = allocate(job, "src")
    alloc_id = str(allocation.allocation_id)
    fresh = client.get("/v2/monitor/task", {"allocation_id": alloc_id, "task_name": "src"})
    assert fresh.status_code == 200
    assert fresh.json()["tasks_status"]["exec_master_row_count"] == 0
    stats = TaskStats(exec_master_row_count=4, read_master_row_count=4, copy_done=True,
                      backlog="0/128", stage="Master has sent all binlog to slave")
    stats.current_coordinates.gtid_set = "0-101-24"
    StatsStore(redis_client).publish(alloc_id, stats, force=True)
    try:
        response = client.get("/v2/monitor/task", {"allocation_id": alloc_id, "task_name": "src"})
        assert response.status_code == 200
        body = response.json()
        assert_same_shape({**body, "tasks_status": {**body["tasks_status"],
                                                    "throughput_status": None}}, MONITOR_ANSWER)
        assert body["tasks_status"]["progress_PCT"] == "100.0"
        assert body["tasks_status"]["current_coordinates"]["gtid_set"] == "0-101-24"
        wrong = client.get("/v2/monitor/task", {"allocation_id": alloc_id, "task_name": "dest"})
        assert wrong.status_code == 404
        gtid = client.get("/v2/job/gtid", {"job_id": job})
        assert gtid.json() == {"gtid": "0-101-24", "message": "ok"}
    finally:
        StatsStore(redis_client).delete(alloc_id)


def test_gtid_of_a_job_without_stats_is_empty(client: APIClient, job: str) -> None:
    assert client.get("/v2/job/gtid", {"job_id": job}).json() == {"gtid": "", "message": "ok"}
    assert client.get("/v2/job/gtid", {"job_id": "nope"}).status_code == 404


def test_gtid_comes_from_the_target_checkpoint(
    client: APIClient, source_server: MariaDBServer, target_server: MariaDBServer, job_id: str
) -> None:
    job = create_job(client, job_id.removesuffix("-migration"),
                     source_server.connection_config(), target_server.connection_config())
    conn = target_server.connect()
    try:
        ensure_table(conn)
        with conn.cursor() as cur:
            cur.execute(INSERT_SQL, (job, 0, "0-101-7", "mysql-bin.000001", 100))
        response = client.get("/v2/job/gtid", {"job_id": job})
        # MariaDB's own GTID position form, which a user can pass back as a job's ``gtid``.
        assert response.json() == {"gtid": "0-101-7", "message": "ok"}
    finally:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM dtle.binlog_checkpoint WHERE job_id=%s", (job,))
        conn.close()


def validate(client: APIClient, body: Any, method: str = "post") -> dict[str, Any]:
    if method == "get":
        import json

        response = client.get("/v2/validation/job", {"job_config": json.dumps(body)})
    else:
        response = client.post("/v2/validation/job", {"job_config": body}, format="json")
    assert response.status_code == 200, response.json()
    return dict(response.json())


@pytest.mark.parametrize("method", ["get", "post"])
def test_validation_of_good_servers_is_shaped_as_the_document(
    client: APIClient, source_server: MariaDBServer, target_server: MariaDBServer, method: str
) -> None:
    body = pointed_at(MIGRATION_REQUEST, source_server.connection_config(),
                      target_server.connection_config())
    answer = validate(client, body, method)
    assert_same_shape(answer, VALIDATION_ANSWER)
    assert answer["driver_config_validated"] is True
    src, dest = answer["mysql_task_validation_report"]
    assert all(src[k]["validated"] for k in src if k != "task_name"), src
    assert all(dest[k]["validated"] for k in ("connection_validation", "privileges_validation"))
    assert Job.objects.count() == 0


def test_validation_reports_a_source_without_binlog(
    client: APIClient, plain_server: MariaDBServer, target_server: MariaDBServer
) -> None:
    body = pointed_at(MIGRATION_REQUEST, plain_server.connection_config(),
                      target_server.connection_config())
    src = validate(client, body)["mysql_task_validation_report"][0]
    assert src["binlog_validation"]["validated"] is False
    assert "log_bin is OFF" in src["binlog_validation"]["error"]


def test_validation_reports_missing_privileges_and_unreachable_servers(
    client: APIClient, source_server: MariaDBServer
) -> None:
    source_server.execute("CREATE USER IF NOT EXISTS 'reader'@'%' IDENTIFIED BY 'pw'")
    source_server.execute("GRANT SELECT ON *.* TO 'reader'@'%'")
    reader = {**source_server.connection_config(), "mysql_user": "reader", "mysql_password": "pw"}
    unreachable = {**reader, "mysql_port": closed_port()}
    report = validate(client, pointed_at(MIGRATION_REQUEST, reader, unreachable))
    src, dest = report["mysql_task_validation_report"]
    assert src["privileges_validation"] == {
        "validated": False,
        "error": "the user lacks the privileges: REPLICATION CLIENT, REPLICATION SLAVE"}
    assert dest["connection_validation"]["validated"] is False
    assert "cannot connect" in dest["connection_validation"]["error"]


def test_validation_reports_a_bad_config_without_checking_servers(client: APIClient) -> None:
    body = copy.deepcopy(MIGRATION_REQUEST)
    del body["src_task"]["mysql_connection_config"]
    answer = validate(client, body)
    assert answer["driver_config_validated"] is False
    assert answer["job_validation_error"] == (
        "src_task.mysql_connection_config: This field is required.")
    assert answer["mysql_task_validation_report"] == []


def test_schemas_leave_out_views_and_system_schemas(
    client: APIClient, source_server: MariaDBServer, fresh_schema: str
) -> None:
    source_server.execute(f"CREATE DATABASE `{fresh_schema}`")
    source_server.execute(f"CREATE TABLE `{fresh_schema}`.tb1 (id INT PRIMARY KEY, name TEXT)")
    source_server.execute(f"CREATE VIEW `{fresh_schema}`.v1 AS SELECT id FROM `{fresh_schema}`.tb1")
    params = source_server.connection_config()
    response = client.get("/v2/mysql/schemas", params)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert_same_shape(body, SCHEMAS_ANSWER)
    schemas = {s["schema_name"]: s["Tables"] for s in body["schemas"]}
    assert schemas[fresh_schema] == [{"table_name": "tb1"}]
    assert not {"mysql", "information_schema", "performance_schema", "sys"} & set(schemas)
    columns = client.get("/v2/mysql/columns",
                         {**params, "mysql_schema": fresh_schema, "mysql_table": "tb1"})
    assert columns.json() == {"columns": ["id", "name"], "message": "ok"}
    missing = client.get("/v2/mysql/columns",
                         {**params, "mysql_schema": fresh_schema, "mysql_table": "nope"})
    assert missing.status_code == 404
    assert missing.json()["message"] == f"table {fresh_schema}.nope does not exist on 127.0.0.1"
    ok = client.get("/v2/mysql/instance_connection", params)
    assert ok.status_code == 200 and ok.json() == {"message": "ok"}


@pytest.mark.parametrize("url", ["/v2/mysql/schemas", "/v2/mysql/instance_connection"])
def test_an_unreachable_server_is_a_502(client: APIClient, url: str) -> None:
    params = {"mysql_host": "127.0.0.1", "mysql_port": closed_port(), "mysql_user": "root",
              "mysql_password": ""}
    response = client.get(url, params)
    assert response.status_code == 502
    assert "cannot connect to MySQL at 127.0.0.1" in response.json()["message"]
    missing = client.get(url, {"mysql_host": "127.0.0.1"})
    assert missing.status_code == 400 and missing.json()["message"].startswith("mysql_port:")


@pytest.fixture
def rsa_key(tmp_path: Path) -> Any:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "key.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    with override_settings(RSA_PRIVATE_KEY_PATH=str(path)):
        yield key


def encrypt(key: rsa.RSAPrivateKey, password: str) -> str:
    return base64.b64encode(key.public_key().encrypt(password.encode(), padding.PKCS1v15())).decode()


def test_encrypted_passwords_are_decrypted(
    client: APIClient, rsa_key: rsa.RSAPrivateKey, source_server: MariaDBServer
) -> None:
    source_server.execute("CREATE USER IF NOT EXISTS 'enc'@'%' IDENTIFIED BY 'p@ss'")
    params = {**source_server.connection_config(), "mysql_user": "enc",
              "mysql_password": encrypt(rsa_key, "p@ss"), "is_mysql_password_encrypted": "true"}
    assert client.get("/v2/mysql/instance_connection", params).status_code == 200
    body = pointed_at(MIGRATION_REQUEST, params | {"is_mysql_password_encrypted": None},
                      params | {"is_mysql_password_encrypted": None})
    for side in ("src_task", "dest_task"):
        body[side]["mysql_connection_config"].pop("is_mysql_password_encrypted")
    body["is_mysql_password_encrypted"] = True
    response = client.post("/v2/job/sync", {"sync_job_config": body}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["job"]["is_mysql_password_encrypted"] is True
    from jobs.secrets import engine_config

    cfg = engine_config(Job.objects.get(job_id="job1-sync"))
    assert cfg.src_task.mysql_connection_config.mysql_password == "p@ss"


@pytest.mark.parametrize("password", ["not base64!", base64.b64encode(b"x" * 256).decode()])
def test_an_undecryptable_password_is_a_400_and_writes_nothing(
    client: APIClient, rsa_key: rsa.RSAPrivateKey, password: str
) -> None:
    body = copy.deepcopy(MIGRATION_REQUEST)
    body["is_mysql_password_encrypted"] = True
    body["src_task"]["mysql_connection_config"]["mysql_password"] = password
    response = client.post("/v2/job/migration", {"migration_job_config": body}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith(
        "src_task.mysql_connection_config.mysql_password: ")
    assert Job.objects.count() == 0


def test_a_missing_key_file_is_a_400(client: APIClient, tmp_path: Path) -> None:
    body = copy.deepcopy(MIGRATION_REQUEST)
    body["is_mysql_password_encrypted"] = True
    body["src_task"]["mysql_connection_config"]["mysql_password"] = base64.b64encode(
        b"x").decode()
    with override_settings(RSA_PRIVATE_KEY_PATH=str(tmp_path / "absent.pem")):
        response = client.post("/v2/job/migration", {"migration_job_config": body},
                               format="json")
    assert response.status_code == 400
    assert "cannot read the RSA private key file" in response.json()["message"]
    assert Job.objects.count() == 0


def test_state_changes_reach_the_scheduler_after_commit(
    client: APIClient, job_id: str, redis_client: redis.Redis,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from jobs.coordination import job_state_key

    name = job_id.removesuffix("-migration")
    body = {**MIGRATION_REQUEST, "job_name": name}
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/v2/job/migration", {"migration_job_config": body}, format="json")
    assert redis_client.get(job_state_key(job_id)) == b"running:1"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/v2/job/pause", {"job_id": job_id}).status_code == 200
    assert redis_client.get(job_state_key(job_id)) == b"paused:1"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/v2/job/delete", {"job_id": job_id}).status_code == 200
    assert redis_client.get(job_state_key(job_id)) is None
