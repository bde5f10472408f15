"""DDL in the binlog: statements with rows in the same transaction, partial scope, skipped objects."""

from __future__ import annotations

from typing import Any

import pymysql
import pytest
import redis

from replication.runners import DestRunner, SrcRunner
from replication.sinks.mysql.applier import MySQLApplier
from replication.sinks.mysql.checkpoint import PENDING_DDL_SEQ, TABLE
from replication.wire.changes import RowEvent
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import schema_digest, wait_equal
from tests.support.incremental import Running, make_job, start_runner, wait_streaming


def _source_writes(source: MariaDBServer, schema: str, *statements: str) -> None:
    conn = source.connect(database=schema)
    with conn.cursor() as cur:
        for sql in statements:
            cur.execute(sql)
    conn.close()


def _prepare(source: MariaDBServer, target: MariaDBServer, schema: str) -> None:
    for server in (source, target):
        server.execute(f"CREATE DATABASE `{schema}`")
        server.execute(f"CREATE TABLE `{schema}`.t1 (id INT PRIMARY KEY, v VARCHAR(20))")
    source.execute(f"INSERT INTO `{schema}`.t1 SELECT seq, CONCAT('v', seq) FROM `{schema}`.seq_1_to_50")
    target.execute(f"INSERT INTO `{schema}`.t1 SELECT seq, CONCAT('v', seq) FROM `{schema}`.seq_1_to_50")


def _start(job: Any, client: redis.Redis) -> tuple[Running, Running]:
    src = start_runner(SrcRunner, job, client)
    dest = start_runner(DestRunner, job, client)
    wait_streaming(src)  # auto_gtid: write after the src took its position
    return src, dest


def test_create_table_select_replicates_the_rows_of_its_transaction(
    source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str,
) -> None:
    s = fresh_schema
    _prepare(source_server, target_server, s)
    job = make_job(job_id, source_server, target_server, s, auto_gtid=True)
    src, dest = _start(job, redis_client)
    try:
        _source_writes(source_server, s,
                       "CREATE TABLE t2 SELECT * FROM t1",
                       "CREATE TABLE t3 (PRIMARY KEY (id)) AS SELECT id, LENGTH(v) AS w "
                       "FROM t1 WHERE id > 20",
                       "CREATE OR REPLACE TABLE t2 SELECT * FROM t1 WHERE id <= 10",
                       "INSERT INTO t3 VALUES (1000, 1)")
        wait_equal(source_server, target_server, s, timeout=30, runners=(src, dest))
    finally:
        src.stop()
        dest.stop()
    assert schema_digest(target_server, s)["t2"][0] == 10
    assert schema_digest(target_server, s)["t3"][0] == 31


def test_crash_between_ddl_and_its_rows_applies_the_rows_once(
    source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = fresh_schema
    _prepare(source_server, target_server, s)
    job = make_job(job_id, source_server, target_server, s, auto_gtid=True)
    rows = MySQLApplier._rows
    failed: list[str] = []

    def crash_once(self: MySQLApplier, cur: Any, event: RowEvent, idempotent: bool) -> None:
        if event.table == "t2" and not failed:
            failed.append(event.table)  # the DDL committed; the rows' transaction dies
            raise pymysql.err.OperationalError(2013, "Lost connection to server during query")
        rows(self, cur, event, idempotent)

    monkeypatch.setattr(MySQLApplier, "_rows", crash_once)
    src, dest = _start(job, redis_client)
    try:
        _source_writes(source_server, s, "CREATE TABLE t2 SELECT * FROM t1",
                       "UPDATE t1 SET v = 'after' WHERE id = 1")
        dest.thread.join(30)
        assert failed and dest.error, "the dest should have stopped on the injected failure"
        marker = target_server.execute(f"SELECT gtid_set FROM {TABLE} WHERE job_id=%s AND seq=%s",
                                       (job_id, PENDING_DDL_SEQ))
        assert marker, "the DDL-in-progress marker must survive the failure"
        assert target_server.execute(f"SELECT COUNT(*) FROM `{s}`.t2")[0][0] == 0
        dest = start_runner(DestRunner, job, redis_client)
        wait_equal(source_server, target_server, s, timeout=30, runners=(src, dest))
    finally:
        src.stop()
        dest.stop()
    assert schema_digest(target_server, s)["t2"][0] == 50
    assert not target_server.execute(f"SELECT 1 FROM {TABLE} WHERE job_id=%s AND seq=%s",
                                     (job_id, PENDING_DDL_SEQ))


def test_ddl_keeps_the_replicated_tables_and_skips_views_triggers_and_routines(
    source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str,
) -> None:
    s, other = fresh_schema, f"{fresh_schema}_x"
    _prepare(source_server, target_server, s)
    source_server.execute(f"CREATE DATABASE `{other}`")
    for table in ("a", "b", "c", "d", "e"):
        source_server.execute(f"CREATE TABLE `{other}`.{table} (id INT PRIMARY KEY)")
    for server in (source_server, target_server):
        server.execute(f"CREATE TABLE `{s}`.gone (id INT PRIMARY KEY)")
        server.execute(f"CREATE TABLE `{s}`.emptied (id INT PRIMARY KEY)")
        server.execute(f"INSERT INTO `{s}`.emptied VALUES (1), (2)")
    job = make_job(job_id, source_server, target_server, s, auto_gtid=True)
    src, dest = _start(job, redis_client)
    try:
        _source_writes(
            source_server, s,
            "CREATE VIEW v AS SELECT id FROM t1",
            "CREATE TRIGGER tr BEFORE INSERT ON t1 FOR EACH ROW SET NEW.v = UPPER(NEW.v)",
            "CREATE PROCEDURE p() SELECT 1",
            "CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1",
            "CREATE EVENT e ON SCHEDULE EVERY 1 DAY DISABLE DO SELECT 1",
            f"DROP TABLE gone, `{other}`.a",
            f"DROP TABLE IF EXISTS `{other}`.b, missing",
            f"DROP TABLE `{other}`.c",
            f"TRUNCATE TABLE `{other}`.e", "TRUNCATE TABLE emptied",
            f"RENAME TABLE `{other}`.d TO `{other}`.d2, t1 TO t1_new",
            "INSERT INTO t1_new VALUES (100, 'x')",
            "ALTER VIEW v AS SELECT 1 AS one",
            "DROP VIEW v", "DROP TRIGGER tr", "DROP PROCEDURE p", "DROP FUNCTION f", "DROP EVENT e",
            "CREATE TABLE after_all (id INT PRIMARY KEY)", "INSERT INTO after_all VALUES (1)")
        wait_equal(source_server, target_server, s, timeout=30, runners=(src, dest))
    finally:
        src.stop()
        dest.stop()
        source_server.execute(f"DROP DATABASE IF EXISTS `{other}`")
    assert set(schema_digest(target_server, s)) == {"t1_new", "emptied", "after_all"}
