"""The MySQL sink: full-copy messages through the snapshot pool, transactions through the
incremental applier, every target transaction behind the ownership fence, and the resume store
that reads the target's checkpoint tables back for the src and keeps its schema history."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from pymysql.constants import CLIENT

from replication import mysql
from replication.config import MySQLDestTaskConfig
from replication.errors import ConfigError, Stopped
from replication.mysql import ConnFactory
from replication.position import BinlogPosition
from replication.resume import SnapshotResume
from replication.scope.filters import TableFilter
from replication.sinks.mysql.checkpoint import load_checkpoint
from replication.sinks.mysql.fence import OwnerFence
from replication.sinks.mysql.incremental import IncrementalApplier, TableWindows
from replication.sinks.mysql.schema_history import SchemaHistoryWriter, versions_at
from replication.sinks.mysql.snapshot import SnapshotApplier
from replication.sinks.mysql.snapshot_checkpoint import load_snapshot_resume
from replication.sinks.mysql.snapshot_pool import DEFAULT_WORKERS, SnapshotPool
from replication.source.schema import SchemaVersion
from replication.task import TaskContext
from replication.wire.changes import IncrementalStart, TransactionGroup
from replication.wire.snapshot import SNAPSHOT_MESSAGES, SnapshotChunk, SnapshotDone, SnapshotTable


def _config(ctx: TaskContext) -> MySQLDestTaskConfig:
    dest = ctx.job.dest_task
    if not isinstance(dest, MySQLDestTaskConfig):
        raise ConfigError("this job's dest is not a MySQL target")
    return dest


def target_factory(ctx: TaskContext, **kwargs: Any) -> ConnFactory:
    cfg = _config(ctx).mysql_connection_config
    return lambda: mysql.connect(cfg, **kwargs)


class MySQLResumeStore:
    """The target's checkpoint tables, read for the src."""

    def __init__(self, ctx: TaskContext) -> None:
        self._factory = target_factory(ctx)
        self._job_id = ctx.job.job_id
        self._history = SchemaHistoryWriter(self._factory, self._job_id)

    def incremental_start(self) -> BinlogPosition | None:
        checkpoint = load_checkpoint(self._factory, self._job_id)
        return checkpoint.start_position() if checkpoint is not None else None

    def snapshot_resume(self) -> SnapshotResume:
        return load_snapshot_resume(self._factory, self._job_id)

    def record_schema(self, versions: Sequence[SchemaVersion]) -> None:
        self._history.record(versions)

    def schema_at(self, position: BinlogPosition) -> dict[tuple[str, str], SchemaVersion]:
        return versions_at(self._factory, self._job_id, position)

    def close(self) -> None:
        self._history.close()


class MySQLSink:
    """Applies a job's transport messages to its MySQL target, exactly once."""

    def __init__(self, ctx: TaskContext, ack: Callable[..., None]) -> None:
        self.ctx = ctx
        self._ack = ack
        self._cfg = _config(ctx)
        self._factory = target_factory(ctx)
        self._incr: IncrementalApplier | None = None
        # (entry id, ordinal of its last transaction), ordinals never decreasing: an entry is
        # acknowledged once every transaction up to that ordinal committed.
        self._unacked: deque[tuple[str, int]] = deque()
        self._ack_lock = threading.Lock()
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
        """Started with the first full-copy message: max(DEFAULT_WORKERS, parallel_workers)
        connections."""
        if self._pool is None:
            self._pool = SnapshotPool(self._snapshot_applier,
                                      max(DEFAULT_WORKERS, self._cfg.parallel_workers),
                                      self._ack, self.ctx.stop)
        return self._pool

    def open(self) -> None:
        ctx = self.ctx
        # Before any checkpoint is read: the takeover waits for the previous owner's last
        # transactions, so what is read afterwards includes them, and fences that owner out.
        self._fence.take(self._factory, ctx.stop)
        # Multi-statement connections: a transaction's rows, its checkpoint row and its COMMIT
        # go to the target in one round trip.
        multi = target_factory(ctx, client_flag=CLIENT.MULTI_STATEMENTS)
        self._incr = IncrementalApplier(ctx.job.job_id, self._cfg, multi, ctx.stats,
                                        self._table_windows, self._fence, ctx.stop, self._acknowledge,
                                        ctx.publish_stats)

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

    def submit(self, entry_id: str, message: Any) -> None:
        incr = self._applier()
        if isinstance(message, (SnapshotTable, SnapshotChunk)):
            self._snapshot_pool().submit(entry_id, message)  # its worker acks after the commit
            return
        # Barrier: everything else follows the full copy's messages once they are committed.
        if self._pool is not None and not self._pool.drain():
            return  # stopped: the entry stays in the stream
        if isinstance(message, TransactionGroup):
            try:
                covered = incr.submit(message)
            except Stopped:
                return  # partly queued: the entry stays in the stream, whatever commits
        elif isinstance(message, IncrementalStart):
            incr.start(message)
            covered = incr.submitted
        else:
            covered = self._snapshot_message(message)
        with self._ack_lock:
            self._unacked.append((entry_id, covered))
        self._acknowledge(incr.committed)

    def _applier(self) -> IncrementalApplier:
        if self._incr is None:
            raise RuntimeError("MySQLSink.open() must run before messages are submitted")
        return self._incr

    def _snapshot_message(self, message: Any) -> int:
        """Apply a ``SnapshotDone`` (the pool has drained; it commits at once): record where
        incremental starts and until where replay must be idempotent."""
        incr = self._applier()
        if not isinstance(message, SNAPSHOT_MESSAGES):
            raise ConfigError(f"unexpected message {type(message).__name__} in the transport")
        self._snapshot.apply(message)
        if isinstance(message, SnapshotDone):
            incr.start(IncrementalStart(message.start, message.end))
        return incr.submitted

    def maintain(self, force: bool = False) -> None:
        if self._pool is not None:
            self._pool.check()
        incr = self._applier()
        incr.maintain(force)
        self._acknowledge(incr.committed)

    def _acknowledge(self, committed: int) -> None:
        """Acknowledge the entries whose transactions all committed (a worker calls this
        right after its commit). Each checkpoint row committed with its rows: no fold needed."""
        with self._ack_lock:
            done = []
            while self._unacked and self._unacked[0][1] <= committed:
                done.append(self._unacked.popleft()[0])
            if done:
                self._ack(*done)

    @property
    def idle(self) -> bool:
        return self._applier().idle

    @property
    def pending(self) -> int:
        return len(self._unacked)

    def drain(self, timeout: float) -> bool:
        return self._applier().drain(timeout)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        if self._incr is not None:
            self._incr.close()
        self._snapshot.close()
