"""The target-side ownership fence: a dest that another allocation replaced commits nothing."""

from __future__ import annotations

from collections.abc import Callable

import pymysql
import pytest
import redis
from pymysql.constants import CLIENT

from replication.config import JobConfig
from replication.position import BinlogPosition
from replication.runners import DestRunner, SrcRunner
from replication.sinks.mysql.checkpoint import INSERT_SQL, CheckpointStore
from replication.sinks.mysql.fence import OwnerFence
from replication.sinks.mysql.incremental import IncrementalApplier
from replication.sinks.mysql.snapshot import SnapshotApplier
from replication.stats import TaskStats
from replication.task import TaskContext
from replication.wire.snapshot import SnapshotChunk, SnapshotTable
from replication.wire.transport import FencedOut
from scripts.cluster import wait_for
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import schema_digest, wait_equal
from tests.support.incremental import Running, make_job, start_runner


def _counters(server: MariaDBServer, schema: str) -> list[tuple[object, ...]]:
    return server.execute(f"SELECT id, n FROM `{schema}`.counters ORDER BY id")


def _bump(source: MariaDBServer, schema: str, count: int) -> None:
    """``count`` source transactions, each ``n = n + 1`` on one row: applied twice, they show."""
    conn = source.connect(database=schema)
    with conn.cursor() as cur:
        for i in range(count):
            cur.execute("UPDATE counters SET n = n + 1 WHERE id = %s", (i % 5 + 1,))
    conn.close()


def test_a_replaced_dest_is_fenced_out_and_nothing_applies_twice(
    source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str,
) -> None:
    source_server.execute(f"CREATE DATABASE `{fresh_schema}`")
    source_server.execute(f"CREATE TABLE `{fresh_schema}`.counters (id INT PRIMARY KEY, n INT NOT NULL)")
    source_server.execute(f"INSERT INTO `{fresh_schema}`.counters VALUES (1,0),(2,0),(3,0),(4,0),(5,0)")
    job = make_job(job_id, source_server, target_server, fresh_schema, workers=2)
    dest_a = start_runner(DestRunner, job, redis_client, owner="A")
    src = start_runner(SrcRunner, job, redis_client)
    runners: list[Running] = [src, dest_a]
    try:
        _bump(source_server, fresh_schema, 100)
        wait_equal(source_server, target_server, fresh_schema, runners=(src, dest_a))
        # A is alive and keeps reading the stream; B starts on the same stream and target.
        dest_b = start_runner(DestRunner, job, redis_client, owner="B")
        runners.append(dest_b)
        # Writes keep coming until A, applying some of them, finds that B owns the target.
        wait_for(lambda: _bump(source_server, fresh_schema, 10) or not dest_a.thread.is_alive(),
                 30, "the replaced dest to stop", interval=0.05)
        wait_equal(source_server, target_server, fresh_schema, runners=(src, dest_b))
    finally:
        for runner in runners:
            if runner.thread.is_alive():
                runner.stop()
    assert len(dest_a.error) == 1 and isinstance(dest_a.error[0], FencedOut), dest_a.error
    assert "another allocation owns this job's target: B" in str(dest_a.error[0])
    assert not dest_b.error and not src.error
    assert _counters(target_server, fresh_schema) == _counters(source_server, fresh_schema)
    assert schema_digest(target_server, fresh_schema) == schema_digest(source_server, fresh_schema)


def _held_checkpoint_row(target: MariaDBServer, fence: OwnerFence, job_id: str) -> pymysql.Connection:
    """A's transaction as its applier sends it (fence check first), left open before COMMIT."""
    conn = target.connect(client_flag=CLIENT.MULTI_STATEMENTS)
    conn.begin()
    with conn.cursor() as cur:
        for sql, args in fence.statements():
            cur.execute(sql, args)
        cur.execute(INSERT_SQL, (job_id, 7, "0-999-7", "mysql-bin.000009", 4242))
    return conn


def test_a_takeover_waits_for_the_old_owners_open_transaction(
    source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str,
) -> None:
    job = make_job(job_id, source_server, target_server, fresh_schema)
    factory = target_server.connect
    fence_a = OwnerFence(job_id, "A")
    fence_a.take(factory)
    store = CheckpointStore(factory, job_id, fence_a)
    store.start(BinlogPosition("mysql-bin.000001", 4, "0-999-1"))
    store.close()
    held = _held_checkpoint_row(target_server, fence_a, job_id)
    runners: list[DestRunner] = []
    dest_b = start_runner(_recording(runners), job, redis_client, owner="B")
    try:
        wait_for(lambda: target_server.execute(
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT' "
            "AND trx_query LIKE 'INSERT INTO %dest_owner%'")[0][0] == 1, 30,
            "B's takeover to wait for A's open transaction")
        held.commit()
        held.close()
        runner = _wait_for_incremental(runners, dest_b)
        checkpoint = runner.checkpoint
        assert checkpoint is not None and checkpoint.max_seq == 7
        assert "0-999-7" in checkpoint.executed, "B must see what A committed before it took over"
        # A's next transaction is refused and leaves nothing behind.
        late = target_server.connect(client_flag=CLIENT.MULTI_STATEMENTS)
        with pytest.raises(pymysql.err.MySQLError) as refused, late.cursor() as cur:
            cur.execute("BEGIN;" + _literal_statements(late, fence_a)
                        + ";" + INSERT_SQL % (f"'{job_id}'", 8, "'0-999-8'", "''", 0) + ";COMMIT")
        assert fence_a.fenced_out(refused.value, late) is not None
        late.close()
        assert target_server.execute("SELECT COUNT(*) FROM dtle.binlog_checkpoint WHERE job_id=%s "
                                     "AND seq = 8", (job_id,))[0][0] == 0
    finally:
        dest_b.stop()
    assert not dest_b.error


def _wait_for_incremental(runners: list[DestRunner], running: Running) -> IncrementalApplier:
    """The DestRunner's incremental applier once it exists, i.e. once its takeover is done."""
    def ready() -> bool:
        assert not running.error, running.error
        return bool(runners) and runners[0]._sink._incr is not None  # type: ignore[attr-defined]  # noqa: SLF001
    wait_for(ready, 15, "B's takeover")
    incr = runners[0]._sink._incr  # type: ignore[attr-defined]  # noqa: SLF001 - what B loaded
    assert incr is not None
    return incr


def _recording(runners: list[DestRunner]) -> Callable[[TaskContext], DestRunner]:
    def make(ctx: TaskContext) -> DestRunner:
        runners.append(DestRunner(ctx))
        return runners[-1]
    return make


def _literal_statements(conn: pymysql.Connection, fence: OwnerFence) -> str:
    return ";".join(sql % tuple(conn.escape(a) for a in args) for sql, args in fence.statements())


def _chunk(schema: str, seq: int, ids: range, after: int | None) -> SnapshotChunk:
    return SnapshotChunk(
        source_schema=schema, source_table="t", target_schema=schema, target_table="t",
        columns=["id", "n"], column_map=False, sql_mode="", seq=seq,
        after_key=None if after is None else str(after).encode(), last_key=str(ids[-1]).encode(),
        rows=[f"({i},{i})".encode() for i in ids], row_count=len(ids), keyless=False,
        restart=False, last=False, position=BinlogPosition("mysql-bin.000001", 4, ""))


def test_a_stale_owner_cannot_apply_a_snapshot_chunk(
    source_server: MariaDBServer, target_server: MariaDBServer, job_id: str, fresh_schema: str,
) -> None:
    job: JobConfig = make_job(job_id, source_server, target_server, fresh_schema)
    factory = target_server.connect
    fence_a, fence_b = OwnerFence(job_id, "A"), OwnerFence(job_id, "B")
    fence_a.take(factory)
    applier_a = SnapshotApplier(factory, job_id, job, TaskStats(), fence=fence_a)
    applier_a.apply(SnapshotTable(
        fresh_schema, "t", fresh_schema, "t", f"CREATE DATABASE `{fresh_schema}`",
        "CREATE TABLE `t` (id INT PRIMARY KEY, n INT)", False, "", BinlogPosition(), 30, 30))
    applier_a.apply(_chunk(fresh_schema, 1, range(1, 11), None))
    fence_b.take(factory)
    with pytest.raises(FencedOut, match="another allocation owns this job's target: B"):
        applier_a.apply(_chunk(fresh_schema, 2, range(11, 21), 10))
    applier_a.close()
    assert target_server.execute(f"SELECT COUNT(*) FROM `{fresh_schema}`.t")[0][0] == 10
    applier_b = SnapshotApplier(factory, job_id, job, TaskStats(), fence=fence_b)
    applier_b.apply(_chunk(fresh_schema, 2, range(11, 21), 10))
    applier_b.close()
    assert target_server.execute(f"SELECT COUNT(*), SUM(n) FROM `{fresh_schema}`.t")[0] == (20, 210)
