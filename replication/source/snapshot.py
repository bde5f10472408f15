"""The src side of the full copy: a consistent, resumable, parallel snapshot of the source.

``SnapshotReader.run()`` lists the in-scope tables, reads several tables at once (one source
connection and one consistent snapshot per table, or per batch of small tables, ``workers`` at
a time) and sends, per table,
a ``SnapshotTable`` then its ``SnapshotChunk`` messages; finally a ``SnapshotDone`` with the
earliest and latest snapshot positions. It returns the earliest: the binlog must be read from
there, with idempotent writes until the latest, for the target to become consistent.

Restart safety: messages of an earlier run may still sit in the transport unapplied. When
``resume`` is a callable, the reader first waits until the dest has applied them, then loads the
checkpoint, so it continues exactly after what the target holds. A ``SnapshotDone`` still in
the stream means the copy is finished; the reader returns its start position at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from replication.config import JobConfig, KafkaDestTaskConfig
from replication.errors import Stopped
from replication.mysql import ConnFactory
from replication.position import BinlogPosition
from replication.resume import SnapshotResume, TableCheckpoint
from replication.scope.filters import TableFilter
from replication.source.batch_reader import BatchReader
from replication.source.consistent import position_key, source_sql_mode
from replication.source.table_reader import RecordSchema, TableReader
from replication.source.tables import TableSpec, list_tables
from replication.stats import STAGE_FULL, TaskStats
from replication.stop import StopSignal
from replication.wire.snapshot import SnapshotChunk, SnapshotDone, SnapshotTable

log = logging.getLogger(__name__)

ResumeSource = SnapshotResume | Callable[[], SnapshotResume]
# Below this many estimated rows an exact COUNT(*) is cheaper than a wrong progress bar.
EXACT_COUNT_BELOW = 50_000
DRAIN_POLL_SECONDS = 0.1
# Small tables (fewer rows than chunk_size) are read up to this many in one snapshot.
BATCH_TABLES = 50
_Reader = TypeVar("_Reader", BatchReader, TableReader)


class SnapshotReader:
    """Reads the source's in-scope tables and sends them through the transport.

    ``conn_factory`` opens a new source connection (one per table read); ``transport`` needs
    ``send(message)``, ``backlog()`` and ``last_message()``; ``stop`` is checked between chunks;
    ``resume`` is a ``SnapshotResume`` or a callable loading one (preferred: it is called only
    after unapplied messages of an earlier run are drained); ``workers`` tables are read at once;
    ``record_schema`` keeps each table's definition at its snapshot position (schema history).
    """

    def __init__(self, conn_factory: ConnFactory, job: JobConfig, transport: Any,
                 stats: TaskStats, stop: StopSignal, resume: ResumeSource,
                 workers: int = 2, record_schema: RecordSchema | None = None) -> None:
        self._conn_factory = conn_factory
        self._record_schema = record_schema
        self._job = job
        self._transport = transport
        self._stats = stats
        self._stop = stop
        self._resume_source = resume
        self._workers = max(1, workers)
        self._abort = threading.Event()
        self._lock = threading.Lock()
        self.rows_read = 0

    def run(self) -> BinlogPosition:
        """Copy every table (or skip what is done); the position incremental starts from."""
        finished = self._finished_in_stream()
        if finished is not None:
            log.info("job %s: full copy already complete, incremental starts at %s",
                     self._job.job_id, finished.start)
            return finished.start
        resume = self._load_resume()
        if resume.done is not None:
            log.info("job %s: full copy already complete, incremental starts at %s",
                     self._job.job_id, resume.done[0])
            return resume.done[0]
        specs, sql_mode = self._list_tables()
        self._start_stats(specs, resume)
        positions = self._read_all(specs, resume, sql_mode)
        done = self._done_message(positions, len(specs), resume)
        self._transport.send(done)
        self._stats.copy_done = True
        log.info("job %s: full copy read %d tables, %d rows; binlog from %s, idempotent until %s",
                 self._job.job_id, len(specs), self.rows_read, done.start, done.end)
        return done.start

    # -- restart handling ----------------------------------------------------------------
    def _finished_in_stream(self) -> SnapshotDone | None:
        last = self._transport.last_message()
        return last if isinstance(last, SnapshotDone) else None

    def _load_resume(self) -> SnapshotResume:
        if not callable(self._resume_source):
            return self._resume_source
        if isinstance(self._transport.last_message(), (SnapshotTable, SnapshotChunk)):
            log.info("job %s: waiting for the dest to apply the chunks of the previous run",
                     self._job.job_id)
            while self._transport.backlog() > 0:
                if self._stop.is_set():
                    raise Stopped("stop requested while waiting for the dest")
                time.sleep(DRAIN_POLL_SECONDS)
        return self._resume_source()

    # -- tables --------------------------------------------------------------------------
    def _list_tables(self) -> tuple[list[TableSpec], str]:
        src = self._job.src_task
        conn = self._conn_factory()
        try:
            table_filter = TableFilter(src.replicate_do_db, src.replicate_ignore_db)
            specs = [self._exact_estimate(conn, s) for s in list_tables(conn, table_filter)]
            return specs, source_sql_mode(conn)
        finally:
            conn.close()

    @staticmethod
    def _exact_estimate(conn: Any, spec: TableSpec) -> TableSpec:
        if spec.rows_estimate >= EXACT_COUNT_BELOW:
            return spec
        where = f" WHERE ({spec.mapping.where})" if spec.mapping.where else ""
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {spec.name}{where}")
            count = int(cur.fetchone()[0])
        return TableSpec(spec.mapping, spec.columns, spec.key, spec.create_table_sql,
                         spec.create_database_sql, count)

    def _start_stats(self, specs: list[TableSpec], resume: SnapshotResume) -> None:
        self._stats.stage = STAGE_FULL
        self._stats.read_master_row_count = sum(s.rows_estimate for s in specs)
        self._stats.exec_master_row_count = resume.rows_done
        self._stats.start_copy()
        log.info("job %s: full copy of %d tables, about %d rows (%d already copied)",
                 self._job.job_id, len(specs), self._stats.read_master_row_count,
                 resume.rows_done)

    def _read_all(self, specs: list[TableSpec], resume: SnapshotResume,
                  sql_mode: str) -> list[tuple[BinlogPosition, BinlogPosition]]:
        """(start, end) snapshot positions per table, reading ``workers`` tables at once."""
        single, batches = self._batches(specs, resume)
        with ThreadPoolExecutor(self._workers, thread_name_prefix="snapshot") as pool:
            futures = [pool.submit(self._read_one, s, resume, sql_mode) for s in single]
            futures += [pool.submit(self._read_batch, b, sql_mode) for b in batches]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            errors = [exc for f in finished if (exc := f.exception()) is not None]
            if errors:
                self._abort.set()  # the other readers stop at their next chunk
        if errors:
            raise errors[0]  # the first failure, not the Stopped it caused elsewhere
        return [p for f in futures for p in f.result()]

    def _batches(self, specs: list[TableSpec], resume: SnapshotResume
                 ) -> tuple[list[TableSpec], list[list[TableSpec]]]:
        """Tables read alone, and batches of small tables not started yet, each read in one
        snapshot (``BatchReader``). Batches are dealt out so both readers get work."""
        limit = self._job.src_task.chunk_size
        single: list[TableSpec] = []
        small: list[TableSpec] = []
        for spec in specs:
            cp = resume.tables.get((spec.mapping.source_schema, spec.mapping.source_table))
            fresh = cp is None or (cp.seq == 0 and not cp.done)
            (small if fresh and spec.rows_estimate < limit else single).append(spec)
        size = max(1, min(BATCH_TABLES, -(-len(small) // (self._workers * 2))))
        return single, [small[i:i + size] for i in range(0, len(small), size)]

    def _run_reader(self, reader_type: Callable[..., _Reader], *head: Any) -> tuple[_Reader, BinlogPosition]:
        """Run ``reader_type(conn, *head, <what every reader takes>)`` on a source connection of
        its own; the reader and the snapshot position it read at."""
        if self._stopped():
            raise Stopped("stop requested during the full copy")
        conn = self._conn_factory()
        try:
            reader = reader_type(conn, *head, self._job.src_task.chunk_size, self._send, self._stopped,
                                 self._stats.read_master_row_count, self._record_schema,
                                 typed=isinstance(self._job.dest_task, KafkaDestTaskConfig))
            return reader, reader.run()
        finally:
            conn.close()

    def _read_batch(self, specs: list[TableSpec],
                    sql_mode: str) -> list[tuple[BinlogPosition, BinlogPosition]]:
        reader, position = self._run_reader(BatchReader, specs, sql_mode)
        rows = sum(reader.rows_read.values())
        with self._lock:
            self.rows_read += rows
        log.info("job %s: %d small tables read in one snapshot (%s ... %s), %d rows",
                 self._job.job_id, len(specs), specs[0].name, specs[-1].name, rows)
        return [(position, position)] * len(specs)

    def _read_one(self, spec: TableSpec, resume: SnapshotResume,
                  sql_mode: str) -> list[tuple[BinlogPosition, BinlogPosition]]:
        key = (spec.mapping.source_schema, spec.mapping.source_table)
        cp = resume.tables.get(key, TableCheckpoint())
        if cp.done:
            log.info("job %s: table %s already copied (%d rows)", self._job.job_id, spec.name,
                     cp.rows_done)
            return [(cp.start, cp.end)]
        self._log_start(spec, cp)
        reader, position = self._run_reader(TableReader, spec, cp, sql_mode)
        with self._lock:
            self.rows_read += reader.rows_read
        log.info("job %s: table %s read, %d rows (%s of the estimate)", self._job.job_id,
                 spec.name, reader.rows_read, _percent(reader.rows_read, spec.rows_estimate))
        resumed = cp.seq > 0 and bool(reader.spec.key)
        return [((cp.start if resumed else position), position)]

    def _log_start(self, spec: TableSpec, cp: TableCheckpoint) -> None:
        job_id = self._job.job_id
        if cp.seq > 0 and spec.key:
            log.info("job %s: resuming table %s after the last key of chunk %d (%d rows already copied)",
                     job_id, spec.name, cp.seq, cp.rows_done)
            log.debug("job %s: table %s resumes after key %r", job_id, spec.name, cp.last_key)
        elif cp.seq > 0:
            log.info("job %s: restarting table %s from its first row (no usable key; %d rows "
                     "copied before are replaced)", job_id, spec.name, cp.rows_done)
        else:
            key = ", ".join(c.name for c in spec.key) or "none: one streamed read"
            log.info("job %s: starting table %s (about %d rows, key: %s)", job_id, spec.name,
                     spec.rows_estimate, key)

    def _send(self, message: Any) -> None:
        self._transport.send(message)
        if isinstance(message, SnapshotChunk):
            with self._lock:
                self._stats.exec_master_row_count += message.row_count

    def _stopped(self) -> bool:
        return self._abort.is_set() or self._stop.is_set()

    def _done_message(self, positions: list[tuple[BinlogPosition, BinlogPosition]],
                      tables: int, resume: SnapshotResume) -> SnapshotDone:
        starts = [s for s, _ in positions if s.file] or [BinlogPosition()]
        ends = [e for _, e in positions if e.file] or [BinlogPosition()]
        return SnapshotDone(min(starts, key=position_key), max(ends, key=position_key), tables,
                            self.rows_read + resume.rows_done)


def _percent(done: int, total: int) -> str:
    return f"{100.0 * done / total:.1f}%" if total > 0 else "n/a"
