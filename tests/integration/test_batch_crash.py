"""SIGKILL of the dest in the middle of a target transaction that applies many source
transactions at once: nothing of it stays, and after a restart every source transaction is
applied exactly once.

The dest runs in its own process (``python -m replication.cli``) with default settings. Its
backlog is written before it starts, so its target transactions take many source
transactions each; a row lock held on the target stops one of them halfway (several source
transactions' rows already written in it), and the dest is killed right there. A server only
notices a dead client when it next talks to it, so the test then ends the blocked session as
the server eventually would (KILL), which rolls the half-applied batch back. Each source
transaction increments a counter (``n = n + 1``) and inserts a fresh key: applied twice, the
sum or the insert would show it; lost, the sum would.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pymysql
import pytest
import redis

from scripts.cluster import wait_for
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.cli_tasks import assert_running, spawn_task, stop_tasks
from tests.support.digest import schema_digest, wait_equal

TRANSACTIONS = 2000


def _job_file(tmp_path: Path, job_id: str, source: MariaDBServer, target: MariaDBServer,
              schema: str, gtid: str) -> Path:
    job = {"job_id": job_id, "job_name": job_id, "job_type": "migration",
           "src_task": {"mysql_connection_config": source.connection_config(), "gtid": gtid,
                        "replicate_do_db": [{"table_schema": schema}]},
           "dest_task": {"mysql_connection_config": target.connection_config()}}
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def _create(server: MariaDBServer, schema: str) -> None:
    server.execute(f"CREATE DATABASE `{schema}`")
    server.execute(f"CREATE TABLE `{schema}`.counter (id INT PRIMARY KEY, n BIGINT NOT NULL)")
    server.execute(f"CREATE TABLE `{schema}`.log (id BIGINT PRIMARY KEY, counter_id INT NOT NULL)")
    server.execute(f"INSERT INTO `{schema}`.counter SELECT seq, 0 FROM `{schema}`.seq_1_to_10")


def _write(source: MariaDBServer, schema: str) -> None:
    """Transaction i increments counter i % 10 + 1 and logs i; counter 10 first at i = 9."""
    conn = source.connect(database=schema)
    with conn.cursor() as cur:
        for i in range(TRANSACTIONS):
            conn.begin()
            cur.execute("UPDATE counter SET n = n + 1 WHERE id = %s", (i % 10 + 1,))
            cur.execute("INSERT INTO log VALUES (%s, %s)", (i, i % 10 + 1))
            conn.commit()
    conn.close()


def _waiting_dest_transaction(target: MariaDBServer, schema: str, lock_session: int,
                              timeout: float = 60) -> tuple[int, int]:
    """The session of the dest's transaction blocked on the held lock, and the rows it had
    written by then.

    The session is the one whose statement on ``counter`` has been running for over a second:
    with ten rows, only a lock wait takes that long. It is read from PROCESSLIST, which lists
    every running statement, rather than from INNODB_TRX, which did not always show the dest's
    waiting transaction. The rows it wrote are what a READ UNCOMMITTED read sees beyond the
    committed data: its log rows and counter increments."""
    me = target.connect(database=schema)
    try:
        with me.cursor() as cur:
            def blocked() -> int | None:
                cur.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE ID NOT IN "
                            "(CONNECTION_ID(), %s) AND COMMAND = 'Query' AND TIME_MS > 1000 "
                            "AND INFO LIKE '%%counter%%'", (lock_session,))
                found = cur.fetchall()
                return int(found[0][0]) if found else None

            session = wait_for(blocked, timeout, "the dest blocked on the held row lock", 0.05)
            counts = "SELECT (SELECT COUNT(*) FROM log) + (SELECT SUM(n) FROM counter)"
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cur.execute(counts)
            committed = int(cur.fetchall()[0][0])
            cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ UNCOMMITTED")
            cur.execute(counts)
            return session, int(cur.fetchall()[0][0]) - committed
    finally:
        me.close()


@pytest.mark.slow
def test_sigkill_in_the_middle_of_a_multi_transaction_batch_applies_each_transaction_once(
    source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str, tmp_path: Path,
) -> None:
    schema = fresh_schema
    for server in (source_server, target_server):
        _create(server, schema)
    start = str(source_server.execute("SELECT @@gtid_binlog_pos")[0][0])
    job_file = _job_file(tmp_path, job_id, source_server, target_server, schema, start)
    procs = {"src": spawn_task("src", job_file, tmp_path)}
    lock: pymysql.connections.Connection | None = None
    try:
        _write(source_server, schema)
        lock = target_server.connect(database=schema)
        lock.begin()
        with lock.cursor() as cur:
            cur.execute("SELECT n FROM counter WHERE id = 10 FOR UPDATE")
        procs["dest"] = spawn_task("dest", job_file, tmp_path)
        session, rows_written = _waiting_dest_transaction(target_server, schema, lock.thread_id())
        os.kill(procs["dest"].pid, signal.SIGKILL)
        procs["dest"].wait()
        target_server.execute(f"KILL {session}")
        lock.rollback()
        lock.close()
        lock = None
        # Earlier batches committed whole source transactions (one increment and one log row
        # each); the blocked one, which had written rows of several, left nothing.
        committed = int(str(target_server.execute(f"SELECT COUNT(*) FROM `{schema}`.log")[0][0]))
        assert target_server.execute(f"SELECT SUM(n) FROM `{schema}`.counter")[0][0] == committed < 9
        assert rows_written >= 2, "the blocked target transaction should hold several source transactions"

        procs["dest"] = spawn_task("dest", job_file, tmp_path)
        wait_equal(source_server, target_server, schema, timeout=120,
                   check=lambda: assert_running(procs, tmp_path))
    finally:
        if lock is not None:
            lock.rollback()
            lock.close()
        stop_tasks(procs)
        redis_client.delete(f"dtle:stream:{job_id}")
    assert schema_digest(target_server, schema) == schema_digest(source_server, schema)
    total = f"SELECT SUM(n), COUNT(*) FROM `{schema}`.counter"
    assert target_server.execute(total)[0] == source_server.execute(total)[0] == (TRANSACTIONS, 10)
    assert target_server.execute(f"SELECT COUNT(*) FROM `{schema}`.log")[0][0] == TRANSACTIONS
