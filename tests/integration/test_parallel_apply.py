"""Four appliers, both dependency modes: a later independent transaction commits on the target
while an earlier one waits for a row lock that the test holds there, which one applier, applying
in source order, cannot do (with ``parallel_workers=1`` both of those tests fail); concurrent
source writers with conflicting increments converge.

The dests run behind the ownership fence, as a deployment's do: its check takes a shared lock
in every target transaction, which must not serialise the workers."""

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
from replication.sinks.mysql.batches import MAX_BATCH_BYTES
from replication.wire.changes import INSERT, RowEvent, Transaction, estimate_size
from scripts.cluster import wait_for
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import wait_equal
from tests.support.incremental import make_job, start_runner, wait_streaming
from tests.support.workload import create_tables

WRITERS = 4
TRANSACTIONS = 150
WIDE_COLUMNS = 256


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


def _lock_waits(target: MariaDBServer, holder: int) -> list[tuple[int, str]]:
    """(session, statement) of every target transaction waiting for a lock that session
    ``holder``'s transaction holds."""
    return [(int(str(session)), str(query or "")) for session, query in target.execute(
        "SELECT r.trx_mysql_thread_id, r.trx_query FROM information_schema.INNODB_LOCK_WAITS w "
        "JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id "
        "JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id "
        "WHERE b.trx_mysql_thread_id = %s", (holder,))]


def _wide_rows() -> int:
    """Rows of table ``wide`` that make a transaction's estimated size exceed what one target
    transaction may carry, so that no other transaction shares its batch."""
    columns = ["id", *(f"c{i}" for i in range(1, WIDE_COLUMNS))]

    def size(rows: int) -> int:
        return estimate_size(Transaction("0-1-1", "f", 4, 0, [
            RowEvent("d", "wide", INSERT, columns, [[0] * WIDE_COLUMNS] * rows)]))

    rows = MAX_BATCH_BYTES // (size(1) - size(0)) + 1
    assert size(rows) > MAX_BATCH_BYTES
    return rows


def _create_wide(server: MariaDBServer, schema: str) -> None:
    columns = ", ".join(f"c{i} TINYINT NOT NULL DEFAULT 0" for i in range(1, WIDE_COLUMNS))
    server.execute(f"CREATE TABLE `{schema}`.wide (id INT PRIMARY KEY, {columns})")


def _commit_in_one_group(source: MariaDBServer, schema: str, counters: tuple[int, ...]) -> list[int]:
    """One transaction per counter, committed in one binlog group commit: each increments its
    counter and inserts ``_wide_rows()`` rows of its own into ``wide``. Returns the counters in
    binlog order. The group is made by ``binlog_commit_wait_count``: the first COMMIT waits (up
    to a minute) until every one of them is ready, so they get one MariaDB commit id; the test
    checks that they did."""
    rows = _wide_rows()
    conns = [source.connect(database=schema) for _ in counters]
    saved = source.execute("SELECT @@binlog_commit_wait_count, @@binlog_commit_wait_usec")[0]
    try:
        for i, (conn, counter) in enumerate(zip(conns, counters, strict=True)):
            conn.begin()
            with conn.cursor() as cur:
                cur.execute("UPDATE counter SET n = n + 1 WHERE id = %s", (counter,))
                cur.execute(f"INSERT INTO wide (id) SELECT seq + {i * rows} FROM seq_1_to_{rows}")
        source.execute("SET GLOBAL binlog_commit_wait_count = %s, GLOBAL binlog_commit_wait_usec = %s",
                       (len(conns), 60_000_000))
        threads = [threading.Thread(target=conn.commit) for conn in conns]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        gtids = {}
        for conn, counter in zip(conns, counters, strict=True):
            with conn.cursor() as cur:
                cur.execute("SELECT @@last_gtid")
                gtids[str(cur.fetchall()[0][0])] = counter
    finally:
        source.execute("SET GLOBAL binlog_commit_wait_count = %s, GLOBAL binlog_commit_wait_usec = %s",
                       saved)
        for conn in conns:
            conn.close()
    binlog = str(source.execute("SHOW MASTER STATUS")[0][0])
    cids = {}
    for event in source.execute(f"SHOW BINLOG EVENTS IN '{binlog}'"):
        words = str(event[5]).split()  # e.g. BEGIN GTID 0-101-42 cid=1234
        if event[2] == "Gtid" and len(words) > 2 and words[2] in gtids:
            cids[words[2]] = words[3] if len(words) > 3 else ""
    assert len(cids) == len(gtids) and len(set(cids.values())) == 1 and "" not in cids.values(), (
        f"the transactions should share one commit id: {cids}")
    return [gtids[g] for g in sorted(gtids, key=lambda g: int(g.rsplit("-", 1)[1]))]


def _job(job_id: str, source: MariaDBServer, target: MariaDBServer, schema: str,
         commit_parents: bool, history: int = 200) -> JobConfig:
    job = make_job(job_id, source, target, schema, workers=4, auto_gtid=True)
    return dataclasses.replace(job, dest_task=dataclasses.replace(
        job.dest_task, use_my_sql_dependency=commit_parents, dependency_history_size=history))


def test_a_later_independent_transaction_commits_while_an_earlier_one_waits_for_a_lock(
    source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str,
) -> None:
    """Row-key dependencies. The target holds a lock on counter 10; the source increments it
    (T1) and, once the dest's target transaction for T1 visibly waits for that lock, inserts a
    log row (T2), which shares no key with T1. T2 must commit on the target while T1 still
    waits: committed after T1 on the source, it can only get there first by being applied at
    the same time by another worker. One worker applies in source order, so T2 would wait
    behind T1 for as long as the lock is held.

    The hold point makes it deterministic: T1's target transaction has started (and holds its
    batch) before T2 exists, so T2 forms a batch of its own, with no dependency, and an idle
    worker takes it (a worker still holding a batch takes another only when none is idle)."""
    s = fresh_schema
    for server in (source_server, target_server):
        create_tables(server, s)
    job = _job(job_id, source_server, target_server, s, commit_parents=False)
    src = start_runner(SrcRunner, job, redis_client)
    dest = start_runner(DestRunner, job, redis_client, owner="dest-1")
    lock = target_server.connect(database=s)
    try:
        wait_streaming(src)
        lock.begin()
        with lock.cursor() as cur:
            cur.execute("SELECT n FROM counter WHERE id = 10 FOR UPDATE")
        source_server.execute(f"UPDATE `{s}`.counter SET n = n + 1 WHERE id = 10")
        waiting = wait_for(lambda: _lock_waits(target_server, lock.thread_id()), 60,
                           "the dest's increment to wait for the held lock", 0.05)
        assert len(waiting) == 1 and "counter" in waiting[0][1], waiting
        source_server.execute(f"INSERT INTO `{s}`.log VALUES (1, 10, NOW(6))")
        wait_for(lambda: dest.error or target_server.execute(f"SELECT COUNT(*) FROM `{s}`.log")[0][0], 60,
                 "the log row to commit while the increment waits", 0.05)
        assert not dest.error, dest.error
        # The lock is still held, so the increment cannot have committed.
        assert target_server.execute(f"SELECT n FROM `{s}`.counter WHERE id = 10")[0][0] == 0
        lock.rollback()
        wait_equal(source_server, target_server, s, (src, dest), timeout=60)
    finally:
        lock.close()
        src.stop()
        dest.stop()


def test_with_commit_parents_a_later_member_of_a_commit_group_commits_while_an_earlier_one_waits(
    source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str,
) -> None:
    """Commit-parent dependencies (``use_my_sql_dependency``). On MariaDB only transactions
    that committed in one group carry a commit id; one that committed alone falls back to row
    keys, so the test above, run in this mode, would show that fallback and nothing more. Here
    two transactions commit in one group on the source, which makes them independent in this
    mode; each is too big to share a target transaction with the other, and while one worker
    holds the first, an idle one takes the second.

    The target holds locks on both their counters. Once the source says which came first, the
    second one's lock is released: it must commit on the target while the first still waits.
    One worker, or a dependency between group members, would keep it behind the first for as
    long as that lock is held."""
    s = fresh_schema
    for server in (source_server, target_server):
        create_tables(server, s)
        _create_wide(server, s)
    job = _job(job_id, source_server, target_server, s, commit_parents=True, history=2500)
    src = start_runner(SrcRunner, job, redis_client)
    dest = start_runner(DestRunner, job, redis_client, owner="dest-1")
    locks = {counter: target_server.connect(database=s) for counter in (9, 10)}
    counter_on_target = f"SELECT n FROM `{s}`.counter WHERE id = %s"
    try:
        wait_streaming(src)
        for counter, lock in locks.items():
            lock.begin()
            with lock.cursor() as cur:
                cur.execute("SELECT n FROM counter WHERE id = %s FOR UPDATE", (counter,))
        first, second = _commit_in_one_group(source_server, s, tuple(locks))
        locks[second].rollback()
        wait_for(lambda: dest.error or target_server.execute(counter_on_target, (second,))[0][0], 60,
                 "the second member of the group to commit while the first waits", 0.05)
        assert not dest.error, dest.error
        # The first one's lock is still held, so it cannot have committed.
        assert target_server.execute(counter_on_target, (first,))[0][0] == 0
        locks[first].rollback()
        wait_equal(source_server, target_server, s, (src, dest), timeout=60)
    finally:
        for lock in locks.values():
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
