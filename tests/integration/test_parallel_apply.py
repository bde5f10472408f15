"""Four appliers, both dependency modes: a later independent transaction commits on the target
while an earlier one waits for a row lock (what one applier could not do); concurrent source
writers with conflicting increments converge."""

from __future__ import annotations

import dataclasses
import logging
import random
import threading

import pymysql
import pytest
import redis

from replication.config import JobConfig
from replication.runners import DestRunner, SrcRunner
from scripts.cluster import wait_for
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import wait_equal
from tests.support.incremental import make_job, start_runner, wait_streaming
from tests.support.workload import create_tables

WRITERS = 4
TRANSACTIONS = 150


class _Records(logging.Handler):
    """Keeps what one logger said (the runners' logging setup may replace root handlers)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _write(server: MariaDBServer, schema: str, writer: int) -> None:
    """Independent inserts, increments of shared counters, and updates of its own rows in turn."""
    rng = random.Random(writer)
    conn = server.connect(database=schema)
    mine: list[int] = []
    next_id = (writer + 1) * 1_000_000
    with conn.cursor() as cur:
        for _ in range(TRANSACTIONS):
            choice = rng.random()
            while True:
                try:
                    conn.begin()
                    if choice < 0.4:
                        cur.execute("UPDATE counter SET n = n + 1 WHERE id = %s", (rng.randint(1, 10),))
                        cur.execute("INSERT INTO log VALUES (%s, %s, NOW(6))", (next_id, writer))
                    elif choice < 0.8 or not mine:
                        rows = [(next_id + k, k % 17, f"w{writer}-{next_id + k}") for k in range(5)]
                        cur.executemany("INSERT INTO items (id, grp, name, price) VALUES (%s, %s, %s, 1)",
                                        rows)
                        mine.extend(r[0] for r in rows)
                    else:
                        cur.execute("UPDATE items SET price = price * 2 + 1 WHERE id = %s",
                                    (rng.choice(mine),))
                    conn.commit()
                    break
                except pymysql.err.OperationalError as exc:
                    conn.rollback()
                    if exc.args[0] not in (1213, 1205):
                        raise
            next_id += 5
    conn.close()


def _transactions(target: MariaDBServer) -> list[tuple[int, str, str]]:
    """(session, state, statement) of every open transaction on the target."""
    return [(int(str(session)), str(state), str(query or "")) for session, state, query in target.execute(
        "SELECT trx_mysql_thread_id, trx_state, trx_query FROM information_schema.INNODB_TRX")]


def _waiting_increments(target: MariaDBServer, schema: str) -> list[int]:
    """Sessions whose statement on ``schema``'s counter waits for a row lock."""
    return [session for session, state, query in _transactions(target)
            if state == "LOCK WAIT" and schema in query and "counter" in query]


def _job(job_id: str, source: MariaDBServer, target: MariaDBServer, schema: str,
         commit_parents: bool) -> JobConfig:
    job = make_job(job_id, source, target, schema, workers=4, auto_gtid=True)
    return dataclasses.replace(job, dest_task=dataclasses.replace(
        job.dest_task, use_my_sql_dependency=commit_parents, dependency_history_size=200))


@pytest.mark.parametrize("commit_parents", [False, True], ids=["writeset", "commit-parents"])
def test_a_later_transaction_commits_while_an_earlier_one_waits_for_a_lock(
    commit_parents: bool, source_server: MariaDBServer, target_server: MariaDBServer,
    redis_client: redis.Redis, job_id: str, fresh_schema: str,
) -> None:
    """The target holds a lock on counter 10; the source increments it, then logs a row of
    another table. The log row must arrive while the increment is still waiting: the two were
    applied at the same time, by two workers (one worker applies them in order)."""
    s = fresh_schema
    for server in (source_server, target_server):
        create_tables(server, s)
    src = start_runner(SrcRunner, _job(job_id, source_server, target_server, s, commit_parents),
                       redis_client)
    dest = start_runner(DestRunner, _job(job_id, source_server, target_server, s, commit_parents),
                        redis_client)
    lock = target_server.connect(database=s)
    try:
        wait_streaming(src)
        lock.begin()
        with lock.cursor() as cur:
            cur.execute("SELECT n FROM counter WHERE id = 10 FOR UPDATE")
        source_server.execute(f"UPDATE `{s}`.counter SET n = n + 1 WHERE id = 10")
        waiting = wait_for(lambda: _waiting_increments(target_server, s), 30, "the increment to wait")
        source_server.execute(f"INSERT INTO `{s}`.log VALUES (1, 10, NOW(6))")
        try:
            wait_for(lambda: target_server.execute(f"SELECT COUNT(*) FROM `{s}`.log")[0][0] == 1, 30,
                     "the log row to be applied beside the waiting increment")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; target transactions: {_transactions(target_server)}") from exc
        assert _waiting_increments(target_server, s) == waiting, "the increment stopped waiting"
        assert target_server.execute(f"SELECT n FROM `{s}`.counter WHERE id = 10")[0][0] == 0
        lock.rollback()
        wait_equal(source_server, target_server, s, (src, dest), timeout=60)
    finally:
        lock.close()
        src.stop()
        dest.stop()


@pytest.mark.parametrize("commit_parents", [False, True], ids=["writeset", "commit-parents"])
def test_four_workers_converge_in_both_dependency_modes(
    commit_parents: bool, source_server: MariaDBServer, target_server: MariaDBServer,
    redis_client: redis.Redis, job_id: str, fresh_schema: str,
) -> None:
    s = fresh_schema
    for server in (source_server, target_server):
        create_tables(server, s)
    job = _job(job_id, source_server, target_server, s, commit_parents)
    notes = _Records()
    logger = logging.getLogger("replication.sinks.mysql.parallel")
    logger.addHandler(notes)
    level = logger.level
    logger.setLevel(logging.INFO)
    src = start_runner(SrcRunner, job, redis_client)
    dest = start_runner(DestRunner, job, redis_client)
    try:
        wait_streaming(src)
        # Concurrent writers so the source group-commits some transactions (MariaDB commit ids);
        # all of them increment the same ten counters (n = n + 1), which must not be reordered.
        threads = [threading.Thread(target=_write, args=(source_server, s, i)) for i in range(WRITERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        wait_equal(source_server, target_server, s, timeout=60, runners=(src, dest))
    finally:
        src.stop()
        dest.stop()
        logger.removeHandler(notes)
        logger.setLevel(level)
    total = f"SELECT SUM(n) FROM `{s}`.counter"
    assert target_server.execute(total)[0][0] == source_server.execute(total)[0][0]
    assert source_server.execute(total)[0][0] > 0
    noted = any("no commit parents" in r.getMessage() for r in notes.records)
    assert noted == commit_parents
