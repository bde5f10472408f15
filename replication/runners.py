"""The engine's two task runners: ``SrcRunner`` (snapshot, then binlog) and ``DestRunner``.

Where the src starts, in order of precedence:

1. the newest message still in the transport (the src's own last send, not yet applied):
   a transaction group's end position, or the incremental start it announced;
2. the sink's incremental checkpoint (its ``ResumeStore``);
3. an interrupted full copy (the sink's full-copy checkpoints) → resume it;
4. ``gtid`` / ``binlog_file`` / ``auto_gtid`` in the job → incremental only;
5. otherwise a full copy, then the binlog from the copy's start position.

The transport is read before the checkpoint: if the stream is empty at that moment, the dest
had applied and checkpointed everything sent, so the checkpoint read afterwards is complete.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pymysql

from replication import mysql
from replication.config import MySQLDestTaskConfig
from replication.mysql import ConnFactory
from replication.position import BinlogPosition
from replication.resume import ResumeStore
from replication.scope.filters import TableFilter
from replication.scope.rows import RowFilter, WhereEvaluator
from replication.sinks.base import Sink
from replication.sinks.mysql.sink import MySQLResumeStore, MySQLSink
from replication.source.binlog import BinlogReader, TableScope, replica_server_id, resolve_start
from replication.source.incremental import IncrementalSource
from replication.source.requirements import check_source, check_start
from replication.source.snapshot import SnapshotReader
from replication.source.tracker import SchemaTracker, start_tracker
from replication.stats import STAGE_CONNECTING, STAGE_READING
from replication.stop import Throttled
from replication.task import TaskContext
from replication.wire.changes import IncrementalStart, TransactionGroup
from replication.wire.snapshot import SnapshotChunk, SnapshotDone, SnapshotTable

log = logging.getLogger(__name__)

RECEIVE_MESSAGES = 8
# While a runner runs: Python's cyclic collector at its defaults (700, 10, 10) scans every live
# container again and again while the row images in flight (millions of small lists, which
# reference counting frees anyway) pile up; decoding a group then costs several times more.
GC_THRESHOLDS = (50_000, 20, 100)
_gc_lock = threading.Lock()
_gc_users = 0
_gc_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's thresholds while at least one runner of the process runs."""
    global _gc_users, _gc_saved
    with _gc_lock:
        if _gc_users == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLDS)
        _gc_users += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users -= 1
            if _gc_users == 0:
                gc.set_threshold(*_gc_saved)


def source_factory(ctx: TaskContext) -> ConnFactory:
    cfg = ctx.job.src_task.mysql_connection_config
    return lambda: mysql.connect(cfg)


def resume_store_for(ctx: TaskContext) -> ResumeStore:
    """The resume store of the job's kind of sink."""
    if isinstance(ctx.job.dest_task, MySQLDestTaskConfig):
        return MySQLResumeStore(ctx)
    from replication.sinks.kafka.resume import KafkaResumeStore  # only subscription jobs need Kafka

    return KafkaResumeStore(ctx)


def sink_for(ctx: TaskContext) -> Sink:
    """The sink for the job's dest task; it acknowledges entries through the transport."""
    if isinstance(ctx.job.dest_task, MySQLDestTaskConfig):
        return MySQLSink(ctx, ctx.transport.ack)
    from replication.sinks.kafka.sink import KafkaSink

    return KafkaSink(ctx, ctx.transport.ack)


class SrcRunner:
    """Runs a job's src task: decides where to start, then copies and/or streams the binlog."""

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        src = ctx.job.src_task
        self._filter = TableFilter(src.replicate_do_db, src.replicate_ignore_db)
        self._resume = resume_store_for(ctx)

    def run(self) -> None:
        try:
            with fewer_collections():
                self._run()
        finally:
            self._resume.close()

    def _run(self) -> None:
        ctx = self.ctx
        ctx.stats.stage = STAGE_CONNECTING
        ctx.publish_stats()
        conn = source_factory(ctx)()
        try:
            mariadb = check_source(conn, wants_gtid=bool(ctx.job.src_task.gtid)).mariadb
            start, announce = self._decide(conn, mariadb)
            if start is not None:
                check_start(conn, mariadb, start)
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
        start = self._resume.incremental_start()
        if start is not None:
            return start, None
        src = ctx.job.src_task
        if src.incremental_only:
            start = resolve_start(conn, src, mariadb)
            return start, IncrementalStart(start)
        return self._full_copy()

    def _full_copy(self) -> tuple[BinlogPosition | None, IncrementalStart | None]:
        """Run or resume the full copy; the binlog then starts at its earliest position."""
        ctx = self.ctx
        reader = SnapshotReader(source_factory(ctx), ctx.job, ctx.transport, ctx.stats, ctx.stop,
                                self._resume.snapshot_resume,
                                record_schema=self._resume.record_schema)
        start = reader.run()
        if ctx.stop.is_set():
            return None, None
        announce = None
        if ctx.transport.last_message() is None and self._resume.incremental_start() is None:
            # The copy was already complete and its SnapshotDone consumed, yet incremental never
            # started: tell the dest the start and the idempotent window again.
            done = self._resume.snapshot_resume().done
            if done is not None:
                announce = IncrementalStart(done[0], done[1])
        return start, announce

    def _stream(self, start: BinlogPosition, announce: IncrementalStart | None, mariadb: bool) -> None:
        ctx = self.ctx
        src = ctx.job.src_task
        where = WhereEvaluator(source_factory(ctx))
        row_filter = RowFilter(self._filter, where)
        tracker = self._tracker(start, row_filter.in_scope,
                                fresh=announce is not None and src.incremental_only)
        # The reader asks after every binlog event: at most every 50 ms is plenty.
        reader = BinlogReader(src.mysql_connection_config, replica_server_id(ctx.job.job_id), start,
                              mariadb, Throttled(ctx.stop), row_filter.in_scope, tracker=tracker)
        try:
            IncrementalSource(ctx, reader, row_filter, announce).run()
        finally:
            reader.close()
            where.close()


    def _tracker(self, start: BinlogPosition, in_scope: TableScope, fresh: bool) -> SchemaTracker:
        """The schema history at ``start``: the sink keeps it; a fresh incremental-only job
        starts it from the source's definitions now."""
        kept = {} if fresh else self._resume.schema_at(start)
        conn = source_factory(self.ctx)()
        try:
            return start_tracker(conn, kept, start, in_scope, self._resume.record_schema, fresh)
        finally:
            conn.close()


class DestRunner:
    """Runs a job's dest task: receive → sink (applies, checkpoints, acks), until stopped."""

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        self._sink = sink_for(ctx)
        self._announced_incr = False
        self._announced_full = False

    def run(self) -> None:
        with fewer_collections():
            self._run()

    def _run(self) -> None:
        ctx = self.ctx
        sink = self._sink
        try:
            sink.open()
            while not ctx.stop.is_set():
                # A few messages at a time: each may hold thousands of transactions, and what
                # is not yet applied stays in Redis, bounded by repl_chan_buffer_size.
                entries = ctx.transport.receive(count=RECEIVE_MESSAGES, block_ms=200)
                for entry in entries:
                    sink.submit(entry.entry_id, entry.message)
                    if ctx.stop.is_set():
                        break
                    # After the submit: a SnapshotDone returns once the full copy is committed,
                    # so job_stage_incr never tells a user the copy is there before it is.
                    self._announce(entry.message)
                self._maintain(received=bool(entries))
            sink.drain(timeout=5.0)
            self._maintain(force=True)
        finally:
            sink.close()

    def _announce(self, message: object) -> None:
        """The Driver events of the stages, once each per allocation."""
        if isinstance(message, (SnapshotTable, SnapshotChunk)):
            if not self._announced_full:
                self._announced_full = True
                self.ctx.event("Driver", "job_stage_full")
        elif isinstance(message, (TransactionGroup, IncrementalStart, SnapshotDone)):
            if not self._announced_incr:
                self._announced_incr = True
                self.ctx.event("Driver", "job_stage_incr")

    def _maintain(self, force: bool = False, received: bool = True) -> None:
        sink = self._sink
        sink.maintain(force)
        if self._announced_incr:
            if not received and sink.idle:
                self.ctx.stats.set_caught_up()  # empty backlog, everything committed
            else:
                self.ctx.stats.stage = STAGE_READING
        stats = self.ctx.stats  # the backlog and transport counters are the runtime's to fill
        stats.buffer_status.applier_tx_queue_size = sink.pending
        self.ctx.publish_stats()
