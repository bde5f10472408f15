"""/v2/validation/job against real MariaDB sources, one requirement at a time: each failed
requirement is named with its fix, and the src task refuses exactly what validation refuses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from rest_framework.test import APIClient

from replication.errors import SourceError
from replication.runners import SrcRunner
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.api_examples import MIGRATION_REQUEST, pointed_at
from tests.support.incremental import make_job, start_runner, wait_streaming
from tests.support.redis_urls import REDIS_TEST_URL

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(settings: Any, api_client: APIClient) -> APIClient:
    settings.REDIS_URL = REDIS_TEST_URL
    return api_client


@pytest.fixture(scope="module")
def adjustable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBServer]:
    """A source of its own, whose global settings the tests change."""
    with MariaDBServer(tmp_path_factory.mktemp("adjustable"), server_id=131) as server:
        yield server


@pytest.fixture
def restore(adjustable: MariaDBServer) -> Iterator[MariaDBServer]:
    yield adjustable
    adjustable.execute("SET GLOBAL binlog_format = 'ROW', binlog_row_image = 'FULL', "
                       "log_bin_compress = OFF")


def _src_report(client: APIClient, source: MariaDBServer, target: MariaDBServer,
                **src: Any) -> dict[str, Any]:
    body = pointed_at(MIGRATION_REQUEST, source.connection_config(), target.connection_config())
    body["src_task"].update(src)
    response = client.post("/v2/validation/job", {"job_config": body}, format="json")
    assert response.status_code == 200, response.json()
    report = response.json()["mysql_task_validation_report"][0]
    assert report["task_name"] == "src"
    return dict(report)


def _src_refusal(source: MariaDBServer, target: MariaDBServer, job_id: str,
                 client: redis.Redis, **src: Any) -> str:
    """The src task's own answer for the same source: the SourceError it stops with."""
    running = start_runner(SrcRunner, make_job(job_id, source, target, "nothing_here", **src), client)
    running.thread.join(30)
    if running.thread.is_alive():
        running.stop()
        return ""
    return str(running.error[0]) if running.error else ""


@pytest.mark.parametrize("metadata", ["NO_LOG", "MINIMAL"])
def test_sources_without_full_row_metadata_validate_and_start(
        client: APIClient, source_server: MariaDBServer, minimal_metadata_server: MariaDBServer,
        target_server: MariaDBServer, metadata: str) -> None:
    source = source_server if metadata == "NO_LOG" else minimal_metadata_server
    assert source.execute("SELECT @@GLOBAL.binlog_row_metadata")[0][0] == metadata
    report = _src_report(client, source, target_server)
    assert all(report[k] == {"validated": True, "error": ""} for k in report if k != "task_name")


@pytest.mark.parametrize("setting,value,fix", [
    ("binlog_format", "'MIXED'", "set binlog_format=ROW"),
    ("binlog_row_image", "'MINIMAL'", "set binlog_row_image=FULL"),
    ("log_bin_compress", "ON", "set log_bin_compress=OFF"),
])
def test_each_binlog_setting_is_named_with_its_fix_and_refused_at_start(
        client: APIClient, restore: MariaDBServer, target_server: MariaDBServer,
        redis_client: redis.Redis, job_id: str, setting: str, value: str, fix: str) -> None:
    restore.execute(f"SET GLOBAL {setting} = {value}")
    report = _src_report(client, restore, target_server)
    assert report["binlog_validation"]["validated"] is False
    assert fix in report["binlog_validation"]["error"], report
    assert report["gtid_mode_validation"]["validated"] is True
    refusal = _src_refusal(restore, target_server, job_id, redis_client, auto_gtid=True)
    assert fix in refusal, refusal


def test_a_binlog_without_the_log_is_named(client: APIClient, plain_server: MariaDBServer,
                                           target_server: MariaDBServer) -> None:
    report = _src_report(client, plain_server, target_server)
    assert "log_bin is OFF: start the server with the binary log enabled" in \
        report["binlog_validation"]["error"]


def test_a_purged_start_position_is_named(client: APIClient, tmp_path: Path,
                                          target_server: MariaDBServer, redis_client: redis.Redis,
                                          job_id: str) -> None:
    with MariaDBServer(tmp_path / "purging", server_id=132) as source:
        source.execute("CREATE DATABASE p")
        source.execute("CREATE TABLE p.t (id INT PRIMARY KEY)")
        old = source.execute("SELECT @@GLOBAL.gtid_binlog_pos")[0][0]
        source.execute("INSERT INTO p.t VALUES (1)")
        source.execute("FLUSH BINARY LOGS")
        source.execute("INSERT INTO p.t VALUES (2)")
        assert _src_report(client, source, target_server, gtid=old)["binlog_validation"]["validated"]
        source.purge_binary_logs_to("mysql-bin.000002")
        report = _src_report(client, source, target_server, gtid=old)
        assert report["binlog_validation"]["validated"] is False, report
        assert "start position is purged" in report["binlog_validation"]["error"], report
        missing = _src_report(client, source, target_server, binlog_file="mysql-bin.000001",
                              binlog_pos=4)
        assert "mysql-bin.000001" in missing["binlog_validation"]["error"], missing
        refusal = _src_refusal(source, target_server, job_id, redis_client, gtid=old)
        assert "no longer has its binlog" in refusal and "full copy" in refusal, refusal


def test_binlog_compression_turned_on_while_running_stops_at_the_compressed_event(
        restore: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
        job_id: str) -> None:
    restore.execute("CREATE DATABASE IF NOT EXISTS squeezed")
    restore.execute("CREATE TABLE IF NOT EXISTS squeezed.t (id INT PRIMARY KEY, v TEXT)")
    job = make_job(job_id, restore, target_server, "squeezed", auto_gtid=True)
    running = start_runner(SrcRunner, job, redis_client)
    try:
        wait_streaming(running)  # auto_gtid: the src takes its position first
        restore.execute("SET GLOBAL log_bin_compress = ON")
        restore.execute("INSERT INTO squeezed.t VALUES (1, REPEAT('x', 5000))")
        running.thread.join(30)
        assert running.error and isinstance(running.error[0], SourceError), running.error
        assert "compressed binlog event at mysql-bin." in str(running.error[0])
    finally:
        if running.thread.is_alive():
            running.stop()
        restore.execute("DROP DATABASE IF EXISTS squeezed")
