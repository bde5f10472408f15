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


def _job(job_id: str, source: MariaDBServer, target: MariaDBServer, schema: str,
         commit_parents: bool) -> JobConfig:
    job = make_job(job_id, source, target, schema, workers=4, auto_gtid=True)
    return dataclasses.replace(job, dest_task=dataclasses.replace(
        job.dest_task, use_my_sql_dependency=commit_parents, dependency_history_size=200))


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
