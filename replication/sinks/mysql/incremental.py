"""The dest side of the incremental stage: transaction groups → target, exactly once.

Each transaction not yet in the checkpoint is queued (``batches.BatchQueue``) with the tables
it must write idempotently; a free worker applies everything queued as one target transaction
whose checkpoint row lists every GTID it covers (``batches`` says who may share one). Those
that the src's filters emptied carry no rows and only add their GTIDs to a checkpoint row. The
caller acknowledges a transport entry once every transaction in it committed (``committed``
passed the ordinal ``submit`` returned); ``maintain()`` updates the monitor's counters and folds
committed rows into the compacted row about once a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from replication.config import MySQLDestTaskConfig
from replication.gtid import GtidSet
from replication.mysql import ConnFactory
from replication.position import BinlogPosition
from replication.sinks.mysql.applier import MySQLApplier
from replication.sinks.mysql.batches import Batch, BatchQueue, Pending
from replication.sinks.mysql.checkpoint import (
    INSERT_SQL,
    PENDING_DDL_SEQ,
    TABLE,
    Checkpoint,
    CheckpointStore,
    ensure_table,
    load_checkpoint,
)
from replication.sinks.mysql.fence import UNFENCED, OwnerFence
from replication.sinks.mysql.keys import TableKeys
from replication.sinks.mysql.parallel import DependencyTracker, WorkerPool
from replication.stats import TaskStats
from replication.stop import ManualStop, StopSignal
from replication.wire.changes import (
    IncrementalStart,
    RowEvent,
    Transaction,
    TransactionGroup,
    estimate_size,
)

log = logging.getLogger(__name__)

# (target schema, target table) -> (snapshot start, snapshot end) of that table's full copy.
TableWindows = dict[tuple[str, str], tuple[BinlogPosition, BinlogPosition]]
FOLD_INTERVAL = 1.0


def _before(tx: Transaction, position: BinlogPosition, cache: dict[str, GtidSet]) -> bool:
    """Whether ``tx`` is part of what a snapshot taken at ``position`` saw."""
    if tx.gtid and position.gtid_set:
        parsed = cache.get(position.gtid_set)
        if parsed is None:
            parsed = cache[position.gtid_set] = GtidSet.parse(position.gtid_set)
        return tx.gtid in parsed
    return bool(position.file) and (tx.file, tx.pos) <= (position.file, position.pos)


class IncrementalApplier:
    """Applies transaction groups with ``parallel_workers`` connections."""

    def __init__(self, job_id: str, cfg: MySQLDestTaskConfig, conn_factory: ConnFactory,
                 stats: TaskStats, windows: Callable[[], TableWindows] | None = None,
                 fence: OwnerFence = UNFENCED, stop: StopSignal | None = None,
                 on_commit: Callable[[int], None] | None = None,
                 publish: Callable[[], None] | None = None) -> None:
        self.job_id = job_id
        self._factory = conn_factory
        self._stats = stats
        self._stop = stop or ManualStop()
        self._publish = publish or (lambda: None)
        self._store = CheckpointStore(conn_factory, job_id, fence)
        conn = conn_factory()
        try:
            ensure_table(conn)
        finally:
            conn.close()
        self.checkpoint: Checkpoint | None = load_checkpoint(conn_factory, job_id)
        self._keys = TableKeys(conn_factory)
        workers = max(1, cfg.parallel_workers)
        # One worker applies batches in order: no dependencies to compute.
        tracker = DependencyTracker(keys=self._keys, history_size=cfg.dependency_history_size,
                                    use_commit_parents=cfg.use_my_sql_dependency) if workers > 1 else None
        base = self.checkpoint.max_seq if self.checkpoint else 0
        self._folded = 0
        self._queue = BatchQueue(base, tracker, on_commit, workers=workers)
        appliers = [MySQLApplier(conn_factory, self._keys, INSERT_SQL, fence) for _ in range(workers)]
        self._pool = WorkerPool(appliers, self._queue, self._prepare)
        self._pending_ddl = self.checkpoint.pending_ddl if self.checkpoint else ""
        self._next_fold = time.monotonic() + FOLD_INTERVAL
        self._load_windows = windows or dict
        self._windows: TableWindows | None = None
        self._parsed: dict[str, GtidSet] = {}

    @property
    def started(self) -> bool:
        return self.checkpoint is not None

    def start(self, message: IncrementalStart) -> None:
        """Record the start position (first time only) and reload the checkpoint."""
        self._store.start(message.position, message.replay_until)
        self.checkpoint = load_checkpoint(self._factory, self.job_id)
        self._windows = None

    def _ensure_checkpoint(self, group: TransactionGroup) -> Checkpoint:
        if self.checkpoint is None:
            # A src that predates IncrementalStart: start from the group's first transaction.
            first = group.transactions[0] if group.transactions else None
            mariadb = bool(first and first.gtid and ":" not in first.gtid)
            self.checkpoint = Checkpoint(GtidSet(mariadb))
        return self.checkpoint

    def _stitch(self, tx: Transaction) -> frozenset[tuple[str, str]]:
        """Inside the full copy's window, per table: drop changes its copy already holds (the
        table was read after them) and return the tables to write idempotently (read in
        several snapshots around them); outside the window nothing changes."""
        until = self.checkpoint.replay_until if self.checkpoint else None
        if until is None or not _before(tx, until, self._parsed):
            return frozenset()
        if self._windows is None:
            self._windows = self._load_windows()
        kept, idempotent = [], set()
        for change in tx.changes:
            window = (self._windows.get((change.schema, change.table))
                      if isinstance(change, RowEvent) else None)
            if window is None or not isinstance(change, RowEvent):
                kept.append(change)
            elif not _before(tx, window[0], self._parsed):
                kept.append(change)
                if _before(tx, window[1], self._parsed):
                    idempotent.add((change.schema, change.table))
        tx.changes = kept
        return frozenset(idempotent)

    def submit(self, group: TransactionGroup) -> int:
        """Queue a group's transactions for the workers; return the ordinal that covers the
        group. Raises ``Stopped`` when stopped while waiting for room (the group may then be
        partly queued: its entry must stay in the transport)."""
        checkpoint = self._ensure_checkpoint(group)
        for tx in group.transactions:
            if checkpoint.contains(tx.gtid, tx.file, tx.pos):
                continue
            if tx.gtid:
                checkpoint.executed.add(tx.gtid)
            else:
                checkpoint.applied_positions.add((tx.file, tx.pos))
            self._stats.read_master_tx_count += 1
            if self.idle:
                # Falling behind now: until something commits, the delay is at least this
                # transaction's age (what was applied before it is older).
                self._stats.set_delay_from(tx.timestamp)
            idempotent = self._stitch(tx)
            self._queue.put(Pending(tx, idempotent, estimate_size(tx)), self._stop, self._while_waiting)
        return self._queue.submitted

    def _prepare(self, applier: MySQLApplier, batch: Batch) -> Callable[[MySQLApplier], None]:
        """How a worker applies one batch: its rows and one checkpoint row listing its GTIDs,
        in one target transaction (rendered now, while the target may still be busy)."""
        last = batch.last
        gtids = GtidSet(self.checkpoint.executed.mariadb if self.checkpoint else False)
        for item in batch.items:
            if item.tx.gtid:
                gtids.add(item.tx.gtid)
        row = (self.job_id, batch.seq, gtids.format(), last.file, last.pos)
        if last.is_ddl:  # alone in its batch
            idempotent = batch.items[-1].idempotent
            return lambda sender: self._apply_ddl(sender, last, row, idempotent)
        items = [(item.tx, item.idempotent) for item in batch.items]
        rendered = applier.render_batch(items, row)
        return lambda sender: sender.execute(rendered, items, row)

    def _apply_ddl(self, applier: MySQLApplier, tx: Transaction, row: tuple,
                   idempotent: frozenset[tuple[str, str]]) -> None:
        applier.commit_statements(tx, [(f"REPLACE INTO {TABLE} (job_id, seq, gtid_set) VALUES (%s, %s, %s)",
                                        (self.job_id, PENDING_DDL_SEQ, tx.ident))])  # durable first
        applier.apply_ddl(tx, [(INSERT_SQL, row), self._store.clear_ddl_sql()],
                          self._pending_ddl == tx.ident, idempotent)
        log.info("job %s: applied DDL of %s", self.job_id, tx.ident)

    @property
    def submitted(self) -> int:
        """The ordinal of the last transaction queued."""
        return self._queue.submitted

    @property
    def committed(self) -> int:
        """Every transaction up to this ordinal committed."""
        return self._queue.committed

    @property
    def idle(self) -> bool:
        """Everything submitted has committed."""
        return self._queue.committed >= self._queue.submitted

    def maintain(self, force: bool = False) -> None:
        """Update stats from what committed and fold the checkpoint now and then."""
        if self._queue.error is not None:
            raise self._queue.error
        self._count_committed()
        stats = self._stats
        low = self._queue.low_water
        now = time.monotonic()
        if (force or now >= self._next_fold) and low > self._folded:
            self._next_fold = now + FOLD_INTERVAL
            self._store.fold(low)
            self._folded = low
            if self.checkpoint is not None:
                stats.current_coordinates.gtid_set = str(self.checkpoint.executed)

    def _count_committed(self) -> None:
        """The monitor's counters, coordinates and delay (now minus the source time of the
        newest committed transaction) from the batches committed since the last call."""
        stats = self._stats
        finished = self._queue.take_finished()
        for batch in finished:
            stats.exec_master_tx_count += len(batch.items)
            stats.exec_master_row_count += sum(item.tx.row_count for item in batch.items)
        if finished:
            last = max(finished, key=lambda b: b.seq).last  # workers finish out of order
            coords = stats.current_coordinates
            coords.file, coords.position = last.file, last.pos
            stats.set_delay_from(last.timestamp)

    def _while_waiting(self) -> None:
        """While a submit waits for the workers: keep the monitor current."""
        self._count_committed()
        self._publish()

    def drain(self, timeout: float) -> bool:
        """Wait until everything submitted committed."""
        return self._queue.wait_for(self._queue.submitted, timeout)

    def close(self) -> None:
        self._pool.close()
        self._store.close()
        self._keys.close()

    def start_position(self) -> BinlogPosition | None:
        return self.checkpoint.start_position() if self.checkpoint else None
