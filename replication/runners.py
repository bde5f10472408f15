"""The engine's two task runners: ``SrcRunner`` (snapshot, then binlog) and ``DestRunner``.

Where the src starts, in order of precedence:

1. the newest message still in the transport (the src's own last send, not yet applied):
   a transaction group's end position, or the incremental start it announced;
2. the target's incremental checkpoint (``dtle.binlog_checkpoint``);
3. an interrupted full copy (the snapshot module's own checkpoints) → resume it;
4. ``gtid`` / ``binlog_file`` / ``auto_gtid`` in the job → incremental only;
5. otherwise a full copy, then the binlog from the copy's start position.

The transport is read before the checkpoint: if the stream is empty at that moment, the dest
had applied and checkpointed everything sent, so the checkpoint read afterwards is complete.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pymysql
from pymysql.constants import CLIENT

from replication import mysql
from replication.config import MySQLDestTaskConfig
from replication.errors import ConfigError
from replication.mysql import ConnFactory
from replication.position import BinlogPosition
from replication.scope.filters import TableFilter
from replication.scope.rows import RowFilter, WhereEvaluator
from replication.sinks.mysql.checkpoint import load_checkpoint
from replication.sinks.mysql.fence import OwnerFence
from replication.sinks.mysql.incremental import IncrementalApplier, TableWindows
from replication.sinks.mysql.snapshot import SnapshotApplier
from replication.sinks.mysql.snapshot_checkpoint import load_snapshot_resume
from replication.sinks.mysql.snapshot_pool import DEFAULT_WORKERS, SnapshotPool
from replication.source.binlog import BinlogReader, check_source, replica_server_id, resolve_start
from replication.source.incremental import IncrementalSource
from replication.source.snapshot import SnapshotReader
from replication.stats import STAGE_CONNECTING, STAGE_READING
from replication.task import TaskContext
from replication.wire.changes import IncrementalStart, TransactionGroup
from replication.wire.snapshot import (
    SNAPSHOT_MESSAGES,
    SnapshotChunk,
    SnapshotDone,
    SnapshotTable,
)

log = logging.getLogger(__name__)



def source_factory(ctx: TaskContext) -> ConnFactory:
    cfg = ctx.job.src_task.mysql_connection_config
    return lambda: mysql.connect(cfg)


def target_factory(ctx: TaskContext, **kwargs: Any) -> ConnFactory:
    dest = ctx.job.dest_task
    if not isinstance(dest, MySQLDestTaskConfig):
        raise ConfigError("this job's dest is not a MySQL target")
    cfg = dest.mysql_connection_config
    return lambda: mysql.connect(cfg, **kwargs)


class SrcRunner:
    """Runs a job's src task: decides where to start, then copies and/or streams the binlog."""

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        src = ctx.job.src_task
        self._filter = TableFilter(src.replicate_do_db, src.replicate_ignore_db)

    def run(self) -> None:
        ctx = self.ctx
        ctx.stats.stage = STAGE_CONNECTING
        ctx.publish_stats()
        conn = source_factory(ctx)()
        try:
            mariadb = check_source(conn)
            start, announce = self._decide(conn, mariadb)
        finally:
            conn.close()
        if start is None:
            return  # stopped during the full copy
        self._stream(start, announce, mariadb)

    def _decide(self, conn: pymysql.connections.Connection,
                mariadb: bool) -> tuple[BinlogPosition | None, IncrementalStart | None]:
        ctx = self.ctx
        last = ctx.transport.last_message()
        if isinstance(last, TransactionGroup):
            return last.end, None
        if isinstance(last, IncrementalStart):
            return last.position, None
        checkpoint = self._target_checkpoint()
        if checkpoint is not None:
            return checkpoint.start_position(), None
        src = ctx.job.src_task
        if src.incremental_only:
            start = resolve_start(conn, src, mariadb)
            return start, IncrementalStart(start)
        return self._full_copy()

    def _target_checkpoint(self) -> Any:
        try:
            return load_checkpoint(target_factory(self.ctx), self.ctx.job.job_id)
        except ConfigError:
            return None  # a Kafka dest keeps its own checkpoint

    def _full_copy(self) -> tuple[BinlogPosition | None, IncrementalStart | None]:
        """Run or resume the full copy; the binlog then starts at its earliest position."""
        ctx = self.ctx
        targets = target_factory(ctx)
        reader = SnapshotReader(source_factory(ctx), ctx.job, ctx.transport, ctx.stats, ctx.stop,
                                lambda: load_snapshot_resume(targets, ctx.job.job_id))
        start = reader.run()
        if ctx.stop.is_set():
            return None, None
        announce = None
        if ctx.transport.last_message() is None and self._target_checkpoint() is None:
            # The copy was already complete and its SnapshotDone consumed, yet incremental never
            # started: tell the dest the start and the idempotent window again.
            done = load_snapshot_resume(targets, ctx.job.job_id).done
            if done is not None:
                announce = IncrementalStart(done[0], done[1])
        return start, announce

    def _stream(self, start: BinlogPosition, announce: IncrementalStart | None, mariadb: bool) -> None:
        ctx = self.ctx
        src = ctx.job.src_task
        where = WhereEvaluator(source_factory(ctx))
        row_filter = RowFilter(self._filter, where)
        reader = BinlogReader(src.mysql_connection_config, replica_server_id(ctx.job.job_id), start,
                              mariadb, ctx.stop, row_filter.in_scope)
        try:
            IncrementalSource(ctx, reader, row_filter, announce).run()
        finally:
            reader.close()
            where.close()


class DestRunner:
    """Runs a job's dest task: receive → apply → checkpoint → ack, until stopped."""

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        self._factory = target_factory(ctx)
        dest = ctx.job.dest_task
        assert isinstance(dest, MySQLDestTaskConfig)
        self._cfg = dest
        self._incr: IncrementalApplier | None = None
        self._unacked: list[tuple[str, int]] = []  # (entry id, seq it needs committed)
        self._announced_incr = False
        self._announced_full = False
        # With an owner, every target transaction first checks that it still owns the target.
        self._fence = OwnerFence(ctx.job.job_id, ctx.owner)
        self._stats_lock = threading.Lock()
        self._snapshot = self._snapshot_applier()  # SnapshotDone, after the pool drained
        self._pool: SnapshotPool | None = None

    def _snapshot_applier(self) -> SnapshotApplier:
        ctx = self.ctx
        return SnapshotApplier(self._factory, ctx.job.job_id, ctx.job, ctx.stats,
                               fence=self._fence, stats_lock=self._stats_lock)

    def _snapshot_pool(self) -> SnapshotPool:
        """Started with the first full-copy message: K = max(2, parallel_workers) connections."""
        if self._pool is None:
            self._pool = SnapshotPool(self._snapshot_applier,
                                      max(DEFAULT_WORKERS, self._cfg.parallel_workers),
                                      self.ctx.transport.ack, self.ctx.stop)
        return self._pool

    def run(self) -> None:
        ctx = self.ctx
        # Before any checkpoint is read: the takeover waits for the previous owner's last
        # transactions, so what is read afterwards includes them, and fences that owner out.
        self._fence.take(self._factory, ctx.stop)
        # Multi-statement connections: a transaction's rows, its checkpoint row and its COMMIT
        # go to the target in one round trip.
        multi = target_factory(ctx, client_flag=CLIENT.MULTI_STATEMENTS)
        self._incr = IncrementalApplier(ctx.job.job_id, self._cfg, multi, ctx.stats,
                                        self._table_windows, self._fence)
        try:
            while not ctx.stop.is_set():
                entries = ctx.transport.receive(count=32, block_ms=200)
                for entry in entries:
                    self._handle(entry.entry_id, entry.message)
                    if ctx.stop.is_set():
                        break
                if self._pool is not None:
                    self._pool.check()
                self._maintain(received=bool(entries))
            self._incr.drain(timeout=5.0)
            self._maintain(force=True)
        finally:
            if self._pool is not None:
                self._pool.close()
            self._incr.close()
            self._snapshot.close()

    def _table_windows(self) -> TableWindows:
        """Each copied table's snapshot start/end, by target name, for stitching."""
        src = self.ctx.job.src_task
        table_filter = TableFilter(src.replicate_do_db, src.replicate_ignore_db)
        windows: TableWindows = {}
        for (schema, table), cp in load_snapshot_resume(self._factory, self.ctx.job.job_id).tables.items():
            mapping = table_filter.match(schema, table)
            if mapping is not None:
                windows[(mapping.target_schema, mapping.target_table)] = (cp.start, cp.end)
        return windows

    def _handle(self, entry_id: str, message: Any) -> None:
        incr = self._incr
        assert incr is not None
        if isinstance(message, (SnapshotTable, SnapshotChunk)):
            self._announce_full()
            self._snapshot_pool().submit(entry_id, message)  # its worker acks after the commit
            return
        # Barrier: everything else follows the full copy's messages once they are committed.
        if self._pool is not None and not self._pool.drain():
            return  # stopped: the entry stays in the stream
        if isinstance(message, TransactionGroup):
            self._enter_incremental()
            self._unacked.append((entry_id, incr.submit(message)))
        elif isinstance(message, IncrementalStart):
            self._enter_incremental()
            incr.start(message)
            self._unacked.append((entry_id, incr.low_water))
        else:
            self._unacked.append((entry_id, self._snapshot_message(message)))

    def _snapshot_message(self, message: Any) -> int:
        """Apply a ``SnapshotDone`` (the pool has drained; it commits at once): record where
        incremental starts and until where replay must be idempotent."""
        incr = self._incr
        assert incr is not None
        if not isinstance(message, SNAPSHOT_MESSAGES):
            raise ConfigError(f"unexpected message {type(message).__name__} in the transport")
        self._snapshot.apply(message)
        if isinstance(message, SnapshotDone):
            incr.start(IncrementalStart(message.start, message.end))
            self._enter_incremental()
        return incr.low_water

    def _announce_full(self) -> None:
        if not self._announced_full:
            self._announced_full = True
            self.ctx.event("Driver", "job_stage_full")

    def _enter_incremental(self) -> None:
        if not self._announced_incr:
            self._announced_incr = True
            self.ctx.event("Driver", "job_stage_incr")

    def _maintain(self, force: bool = False, received: bool = True) -> None:
        incr = self._incr
        assert incr is not None
        incr.maintain(force)
        if self._announced_incr:
            if not received and incr.idle:
                self.ctx.stats.set_caught_up()  # empty backlog, everything committed
            else:
                self.ctx.stats.stage = STAGE_READING
        low = incr.low_water
        done = [entry_id for entry_id, seq in self._unacked if seq <= low]
        if done:
            # Ack only after the fold? No: each transaction's checkpoint row committed with it.
            self.ctx.transport.ack(*done)
            self._unacked = [(e, s) for e, s in self._unacked if s > low]
        stats = self.ctx.stats  # the backlog and transport counters are the runtime's to fill
        stats.buffer_status.applier_tx_queue_size = len(self._unacked)
        self.ctx.publish_stats()
