"""A dest that falls behind catches up in few target transactions, exactly once, with default
settings; the src sends what its reader has ready in one message; the monitor's delay while
catching up is the age of what was applied."""

from __future__ import annotations

import logging
import time

import redis
from pymysql.constants import CLIENT

from replication.gtid import GtidSet
from replication.position import BinlogPosition
from replication.runners import DestRunner, SrcRunner
from replication.sinks.mysql.applier import MySQLApplier, TableKeys
from replication.sinks.mysql.checkpoint import INSERT_SQL, ensure_table
from replication.stats import STAGE_WAITING
from replication.wire import codec
from replication.wire.changes import (
    DELETE,
    INSERT,
    IncrementalStart,
    RowEvent,
    Transaction,
    TransactionGroup,
)
from replication.wire.transport import stream_key
from scripts.cluster import wait_for
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import schema_digest, wait_equal
from tests.support.incremental import make_job, start_runner
from tests.support.workload import Workload, create_tables


def _position(server: MariaDBServer) -> str:
    return str(server.execute("SELECT @@gtid_binlog_pos")[0][0] or "")


def _binlog_transactions(server: MariaDBServer) -> int:
    """Transactions the server has written to its binlog (domain 0)."""
    pos = _position(server)
    return int(pos.split(",")[0].rpartition("-")[2]) if pos else 0


def test_a_backlog_of_interleaved_changes_is_applied_in_few_target_transactions(
    source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str,
) -> None:
    s = fresh_schema
    for server in (source_server, target_server):
        create_tables(server, s, rows=2000)
    job = make_job(job_id, source_server, target_server, s, gtid=_position(source_server))
    # Inserts, updates and deletes of the same keys, key changes, a table without a key and
    # n = n + 1 counters, all waiting before the dest starts: its batches mix them all.
    workload = Workload(source_server, s)
    workload.run(count=1500)
    src = start_runner(SrcRunner, job, redis_client)
    commits = _binlog_transactions(target_server)
    dest = start_runner(DestRunner, job, redis_client)
    try:
        wait_equal(source_server, target_server, s, timeout=120, runners=(src, dest))
    finally:
        src.stop()
        dest.stop()
    assert not src.error and not dest.error
    counters = f"SELECT SUM(n) FROM `{s}`.counter"
    assert target_server.execute(counters)[0][0] == source_server.execute(counters)[0][0] > 0
    assert schema_digest(target_server, s) == schema_digest(source_server, s)
    assert dest.ctx.stats.exec_master_tx_count == 1500
    applied_in = _binlog_transactions(target_server) - commits
    assert applied_in < 1500 / 5, f"{applied_in} target transactions: the backlog should share them"


def _groups(client: redis.Redis, job_id: str) -> list[tuple[bytes, TransactionGroup]]:
    """The stream's transaction groups (not its IncrementalStarts), with their entry ids."""
    entries = client.xrange(stream_key(job_id))
    messages = [(entry_id, codec.decode(fields[b"m"])) for entry_id, fields in entries]
    return [(entry_id, m) for entry_id, m in messages if isinstance(m, TransactionGroup)]


def test_a_src_whose_stream_is_full_sends_what_it_read_meanwhile_in_one_message(
    source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str,
) -> None:
    s = fresh_schema
    create_tables(source_server, s)
    start = _position(source_server)
    job = make_job(job_id, source_server, target_server, s, gtid=start)
    first = _binlog_transactions(source_server)
    Workload(source_server, s).run(count=600)
    wrote = _binlog_transactions(source_server) - first  # changing no row writes no transaction
    # A stream already at repl_chan_buffer_size (32), as behind a dest that fell behind: the
    # src starts where these messages say and may not send until they are acknowledged.
    held = codec.encode(IncrementalStart(BinlogPosition(gtid_set=GtidSet.parse(start, True).format())))
    for _ in range(32):
        redis_client.xadd(stream_key(job_id), {"m": held})
    src = start_runner(SrcRunner, job, redis_client)
    try:
        wait_for(lambda: src.ctx.stats.read_master_tx_count >= wrote, 90, "the src to read every transaction",
                 interval=0.05)
        assert redis_client.xlen(stream_key(job_id)) == 32 and not _groups(redis_client, job_id)
        redis_client.xdel(stream_key(job_id), *[e for e, _ in redis_client.xrange(stream_key(job_id))])
        wait_for(lambda: sum(len(g.transactions) for _, g in _groups(redis_client, job_id)) >= wrote,
                 90, "the transactions to be sent", interval=0.05)
        sent = _groups(redis_client, job_id)
    finally:
        src.stop()
        redis_client.delete(stream_key(job_id))
    assert sum(len(g.transactions) for _, g in sent) == wrote > 500
    assert len(sent) == 1, f"{len(sent)} messages for what was read while the stream was full"
    assert not src.error


def test_while_the_dest_catches_up_its_delay_is_the_age_of_what_it_applied(
    source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str,
) -> None:
    s = fresh_schema
    for server in (source_server, target_server):
        create_tables(server, s)
    job = make_job(job_id, source_server, target_server, s, gtid=_position(source_server))
    written = int(time.time()) - 30
    Workload(source_server, s).run(count=300, at=written)
    lock = target_server.connect(database=s)
    lock.begin()
    with lock.cursor() as cur:
        cur.execute("SELECT * FROM counter FOR UPDATE")  # the dest stops at its first increment
    src = start_runner(SrcRunner, job, redis_client)
    dest = start_runner(DestRunner, job, redis_client)
    try:
        wait_for(lambda: target_server.execute("SELECT COUNT(*) FROM information_schema.INNODB_TRX "
                                               "WHERE trx_state = 'LOCK WAIT'")[0][0], 30,
                 "the dest to wait for the held lock")
        delays: list[tuple[float, int]] = []

        def sample() -> bool:
            delays.append((time.time(), dest.ctx.stats.to_monitor()["delay_count"]["time"]))
            return len(delays) >= 5

        wait_for(sample, 30, "five samples of the delay", interval=0.2)
        lock.rollback()
        wait_equal(source_server, target_server, s, timeout=60, runners=(src, dest))
        # A receive with nothing new: the dest says it caught up.
        caught_up = wait_for(lambda: (m := dest.ctx.stats.to_monitor())["stage"] == STAGE_WAITING
                             and m, 30, "the dest to say it caught up")
    finally:
        lock.close()
        src.stop()
        dest.stop()
    for now, delay in delays:
        assert now - written - 4 <= delay <= now - written + 1, (now - written, delay)
    assert caught_up["delay_count"]["time"] == 0 and caught_up["stage"] == STAGE_WAITING


def test_rows_moved_ahead_that_collide_under_the_collation_are_applied_in_source_order(
    target_server: MariaDBServer, job_id: str, fresh_schema: str,
) -> None:
    """'A' and 'a' are different values but one key under a case-insensitive collation: the
    INSERT of 'A' moved ahead of the DELETE of 'a' breaks the key, and the batch is applied
    again as the source wrote it."""
    s = fresh_schema
    target_server.execute(f"CREATE DATABASE `{s}`")
    target_server.execute(f"CREATE TABLE `{s}`.t (k VARCHAR(10) PRIMARY KEY, v INT) "
                          "COLLATE utf8mb4_general_ci")
    target_server.execute(f"INSERT INTO `{s}`.t VALUES ('a', 1)")
    factory = target_server.connect
    conn = factory()
    ensure_table(conn)
    conn.close()
    applier = MySQLApplier(lambda: target_server.connect(client_flag=CLIENT.MULTI_STATEMENTS),
                           TableKeys(factory), INSERT_SQL)

    def tx(n: int, kind: str, row: list[object]) -> tuple[Transaction, frozenset[tuple[str, str]]]:
        return Transaction(f"0-9-{n}", "", 0, 0, [RowEvent(s, "t", kind, ["k", "v"], [row])]), frozenset()

    logger = logging.getLogger("replication.sinks.mysql.applier")
    said: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        applier.apply_batch([tx(1, INSERT, ["b", 2]), tx(2, DELETE, ["a", 1]), tx(3, INSERT, ["A", 3])],
                            (job_id, 1, "0-9-1,0-9-2,0-9-3", "", 0))
    finally:
        applier.close()
        logger.removeHandler(handler)
    assert sorted(target_server.execute(f"SELECT k, v FROM `{s}`.t")) == [("A", 3), ("b", 2)]
    assert any("again in source order" in message for message in said), said
