"""End to end through the API with real workers: TLS-only servers, no password anywhere it could
leak, crafted names and filters that replicate inertly. The servers' general logs prove which
statements ran."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.cluster import Cluster, wait_for
from scripts.mariadb_sandbox import MariaDBServer
from scripts.tls_certs import TLSFiles, make_tls_files
from tests.support.e2e import (
    create_dataset,
    migration_config,
    new_schema,
    same_data,
    start_job,
    wait_released,
    write_some,
)
from tests.support.redis_urls import E2E_REDIS_URL
from tests.support.security import (
    admin_pages,
    general_log,
    names_holding,
    redis_dump,
    unquoted_uses,
)

NODES = ("sec-a", "sec-b")
pytestmark = pytest.mark.usefixtures("jobs_deleted_afterwards")


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


def test_a_job_between_tls_only_servers_copies_and_replicates(
        cluster: Cluster, tls_files: TLSFiles) -> None:
    with MariaDBServer(server_id=121, tls=tls_files) as source, \
            MariaDBServer(server_id=122, tls=tls_files) as target:
        schema = new_schema("tls")
        create_dataset(source, schema, 2_000)
        config = migration_config("tls", source, target, schema)
        assert config["src_task"]["mysql_connection_config"]["mysql_ssl_ca"] == str(tls_files.ca)
        job_id = start_job(cluster, config)
        write_some(source, schema, 100_000, 50)
        wait_for(lambda: same_data(source, target, schema), 90, "the binlog changes to arrive")
        cluster.post("/v2/job/delete", job_id=job_id)


@pytest.fixture
def secret_users(source_server: MariaDBServer,
                 target_server: MariaDBServer) -> Iterator[tuple[str, str]]:
    """A MySQL user with a distinctive password on both servers; the user name and password."""
    user, password = f"u{uuid.uuid4().hex[:8]}", f"Pw-{uuid.uuid4().hex}"
    for server in (source_server, target_server):
        server.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        server.execute(f"GRANT ALL ON *.* TO '{user}'@'%'")
    yield user, password
    for server in (source_server, target_server):
        server.execute(f"DROP USER IF EXISTS '{user}'@'%'")


def test_a_job_password_appears_in_no_response_log_event_admin_page_or_redis_value(
        cluster: Cluster, source_server: MariaDBServer, target_server: MariaDBServer,
        secret_users: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    user, password = secret_users
    wrong = f"Wrong-{uuid.uuid4().hex}"
    answers: list[str] = []
    send = cluster.request

    def recorded(*args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        status, body = send(*args, **kwargs)
        answers.append(json.dumps(body))
        return status, body

    monkeypatch.setattr(cluster, "request", recorded)
    schema = new_schema("sec")
    create_dataset(source_server, schema, 1_000)
    config = migration_config("secret", source_server, target_server, schema)
    for side in ("src_task", "dest_task"):
        config[side]["mysql_connection_config"].update(mysql_user=user, mysql_password=password)
    cluster.post("/v2/validation/job", {"job_config": config})
    job_id = start_job(cluster, config)
    write_some(source_server, schema, 100_000, 20)
    wait_for(lambda: same_data(source_server, target_server, schema), 90, "the changes")
    conn = {**config["src_task"]["mysql_connection_config"]}
    cluster.get("/v2/mysql/schemas", **{k: str(v) for k, v in conn.items()})
    cluster.post("/v2/job/pause", job_id=job_id)
    cluster.post("/v2/job/resume", job_id=job_id)
    for side in ("src", "dest"):
        wait_for(lambda s=side: cluster.allocation(job_id, s)["task_status"]["status"]
                 == "running", 60, f"the {side} task to run again")
        cluster.monitor(job_id, side)
    cluster.get("/v2/job/gtid", job_id=job_id)
    cluster.get("/v2/jobs")
    cluster.detail(job_id)
    # A job whose target refuses the password: its failure is reported without the password.
    failing = migration_config("wrongpw", source_server, target_server, schema)
    failing["src_task"]["mysql_connection_config"].update(mysql_user=user,
                                                          mysql_password=password)
    failing["dest_task"]["mysql_connection_config"].update(mysql_user=user, mysql_password=wrong)
    failed_id = str(cluster.post("/v2/job/migration", failing)["job"]["job_id"])
    wait_for(lambda: any("Access denied" in e for e in cluster.events(failed_id, "dest")), 90,
             "the wrong password to be reported")
    cluster.detail(failed_id)
    cluster.request("POST", "/v2/mysql/instance_connection", body={
        **failing["dest_task"]["mysql_connection_config"]})

    places = {"answers": "\n".join(answers),
              "redis": redis_dump(E2E_REDIS_URL),
              "job store": (cluster.workdir / "dtle.sqlite3").read_bytes().decode("latin-1"),
              **{f"log {p.name}": p.read_text(errors="replace")
                 for p in Path(cluster.workdir).glob("*.log")},
              **admin_pages(cluster, [job_id, failed_id])}
    assert "Access denied" in places["answers"]  # the failure was seen, just not the password
    assert len([p for p in places if p.startswith("log ")]) >= 4
    assert "mysql_password=***" in places["log api.log"]  # the GET was logged, blanked
    leaks = [place for place, text in places.items() if password in text or wrong in text]
    assert leaks == []


def test_crafted_names_and_filters_replicate_inertly_and_run_nothing_else(
        cluster: Cluster, source_server: MariaDBServer, target_server: MariaDBServer) -> None:
    mark = f"canary{uuid.uuid4().hex[:6]}"
    schema = f"s_{uuid.uuid4().hex[:6]}"
    table = f"t`; DROP TABLE {mark}.c; --x"
    renamed_schema = f"r`; DROP DATABASE {mark}; --x"
    renamed_table = f"u'); DELETE FROM {mark}.c; #"
    for server in (source_server, target_server):
        server.execute(f"CREATE DATABASE {mark}")
        server.execute(f"CREATE TABLE {mark}.c (id INT PRIMARY KEY)")
        server.execute(f"INSERT INTO {mark}.c VALUES (1)")
    quoted = f"`{schema}`.`{table.replace('`', '``')}`"
    source_server.execute(f"CREATE DATABASE `{schema}`")
    source_server.execute(f"CREATE TABLE {quoted} (id INT PRIMARY KEY, note VARCHAR(40))")
    source_server.execute(f"INSERT INTO {quoted} VALUES (1, 'keep 1'), (2, 'drop'), (3, 'x')")
    rule = {"table_schema": schema, "table_schema_rename": renamed_schema,
            "tables": [{"table_name": table, "table_rename": renamed_table,
                        "where": f"note LIKE 'keep%' OR id > 2 OR note = '{mark}'"}]}
    config = migration_config("crafted", source_server, target_server, schema)
    config["src_task"]["replicate_do_db"] = [rule]
    hostile = json.loads(json.dumps(config))
    hostile["src_task"]["replicate_do_db"][0]["tables"][0]["where"] = (
        f"id > 0) OR (SELECT COUNT(*) FROM {mark}.c")
    status, body = cluster.request("POST", "/v2/job/migration", body=hostile)
    assert status == 400
    assert body["message"].startswith("src_task.replicate_do_db[0].tables[0].where: ")
    target_table = f"`{renamed_schema.replace('`', '``')}`.`{renamed_table}`"
    with general_log(source_server, target_server) as logged:
        job_id = start_job(cluster, config)
        source_server.execute(f"INSERT INTO {quoted} VALUES (4, 'drop'), (5, 'keep 5'), "
                              f"(-1, '{mark}'), (-2, 'no')")
        source_server.execute(f"UPDATE {quoted} SET note = 'keep 2' WHERE id = 2")
        source_server.execute(f"ALTER TABLE {quoted} ADD COLUMN extra INT")
        source_server.execute(f"INSERT INTO {quoted} VALUES (6, 'keep 6', 6)")
        wait_for(lambda: sorted(r[0] for r in target_server.execute(
            f"SELECT id FROM {target_table}")) == [-1, 1, 2, 3, 4, 5, 6], 90,
            "the filtered rows under the crafted names")
        cluster.post("/v2/job/pause", job_id=job_id)
        # Stopped before the clean-up's DROP DATABASE, which a running job would replicate.
        wait_released(job_id, E2E_REDIS_URL)
    for server in (source_server, target_server):
        assert server.execute(f"SELECT id FROM {mark}.c") == [(1,)]
    statements = logged[source_server] + logged[target_server]
    named = [s for s in statements if mark in s]
    assert any(s.startswith("INSERT") for s in logged[target_server] if mark in s)
    assert [(s, unquoted_uses(s, mark)) for s in named if unquoted_uses(s, mark)] == []
    # No DROP or DELETE names a canary object (the engine's own DELETE of a schema-history row
    # may carry the crafted name inside a string literal: that is data, not a name).
    assert [s for s in statements if s.lstrip().upper().startswith(("DROP", "DELETE"))
            and names_holding(s, mark)] == []
    for server in (source_server, target_server):
        server.execute(f"DROP DATABASE {mark}")
    source_server.execute(f"DROP DATABASE `{schema}`")
    target_server.execute(f"DROP DATABASE `{renamed_schema.replace('`', '``')}`")


def test_the_running_api_wants_a_token_and_throttles_wrong_passwords(cluster: Cluster) -> None:
    assert cluster.request("GET", "/v2/jobs", auth=False)[0] == 401
    bare = {"Authorization": cluster.token}
    assert cluster.request("GET", "/v2/jobs", auth=False, headers=bare)[0] == 200
    for path in ("/metrics", "/health"):
        with urllib.request.urlopen(cluster.base_url + path, timeout=10) as response:
            assert response.status == 200, path
    user = f"nobody{uuid.uuid4().hex[:6]}"
    codes = [cluster.request("POST", "/v2/login", auth=False, form={
        "tenant": "platform", "username": user, "password": "guess"})[0] for _ in range(6)]
    assert codes == [401] * 5 + [429]
