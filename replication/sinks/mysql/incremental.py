"""The dest side of the incremental stage: transaction groups → target, exactly once.

Each transaction not yet in the checkpoint gets the next ``seq`` and goes to the worker pool
with its dependency; its checkpoint row commits with it. Transactions that the src's filters
emptied carry no rows: their GTIDs ride in the checkpoint row of the next transaction, or in a
checkpoint-only transaction at the end of a group, so they are recorded without a target
transaction each. The caller acks a transport entry once the low-water mark passed its last
``seq``; ``maintain()`` folds committed rows into the compacted row about once a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from replication.config import MySQLDestTaskConfig
from replication.gtid import GtidSet
from replication.mysql import ConnFactory
from replication.position import BinlogPosition
from replication.sinks.mysql.applier import MySQLApplier, TableKeys
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
from replication.sinks.mysql.parallel import DependencyTracker, Job, WorkerPool
from replication.stats import TaskStats
from replication.wire.changes import IncrementalStart, RowEvent, Transaction, TransactionGroup

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
                 fence: OwnerFence = UNFENCED) -> None:
        self.job_id = job_id
        self._factory = conn_factory
        self._stats = stats
        self._store = CheckpointStore(conn_factory, job_id, fence)
        conn = conn_factory()
        try:
            ensure_table(conn)
        finally:
            conn.close()
        self.checkpoint: Checkpoint | None = load_checkpoint(conn_factory, job_id)
        self._keys = TableKeys(conn_factory)
        self._tracker = DependencyTracker(keys=self._keys, history_size=cfg.dependency_history_size,
                                          use_commit_parents=cfg.use_my_sql_dependency)
        base = self.checkpoint.max_seq if self.checkpoint else 0
        self._seq = base
        self._folded = 0
        appliers = [MySQLApplier(conn_factory, self._keys, INSERT_SQL, fence)
                    for _ in range(max(1, cfg.parallel_workers))]
        self._pool = WorkerPool(appliers, base)
        self._pending_ddl = self.checkpoint.pending_ddl if self.checkpoint else ""
        self._empty: list[Transaction] = []
        self._inflight: dict[int, Transaction] = {}
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
        """Hand a group's transactions to the workers; return the seq that covers the group."""
        checkpoint = self._ensure_checkpoint(group)
        for tx in group.transactions:
            if checkpoint.contains(tx.gtid, tx.file, tx.pos):
                continue
            if tx.gtid:
                checkpoint.executed.add(tx.gtid)
            else:
                checkpoint.applied_positions.add((tx.file, tx.pos))
            self._stats.read_master_tx_count += 1
            idempotent = self._stitch(tx)
            if not tx.changes:
                self._empty.append(tx)
                continue
            self._dispatch(tx, idempotent)
        if self._empty:
            last = self._empty[-1]
            self._dispatch(Transaction(last.gtid, last.file, last.pos, last.timestamp), frozenset())
        return self._seq

    def _dispatch(self, tx: Transaction, idempotent: frozenset[tuple[str, str]]) -> None:
        self._seq += 1
        seq = self._seq
        gtids = GtidSet(self.checkpoint.executed.mariadb if self.checkpoint else False)
        for covered in (*self._empty, tx):
            if covered.gtid:
                gtids.add(covered.gtid)
        self._empty = []
        row = (self.job_id, seq, gtids.format(), tx.file, tx.pos)
        dep, barrier = self._tracker.depends_on(tx, seq)
        if tx.is_ddl:
            run = self._ddl_runner(tx, row, idempotent)
        else:
            def run(applier: MySQLApplier, tx: Transaction = tx) -> None:
                applier.apply(tx, row, idempotent)
        self._inflight[seq] = tx
        self._pool.submit(Job(tx, seq, dep, barrier, run))

    def _ddl_runner(self, tx: Transaction, row: tuple,
                    idempotent: frozenset[tuple[str, str]]) -> Callable[[MySQLApplier], None]:
        may_have_run = self._pending_ddl == tx.ident
        clear_sql = self._store.clear_ddl_sql()
        mark = (f"REPLACE INTO {TABLE} (job_id, seq, gtid_set) VALUES (%s, %s, %s)",
                (self.job_id, PENDING_DDL_SEQ, tx.ident))

        def run(applier: MySQLApplier) -> None:
            applier.commit_statements(tx, [mark])  # durable before the DDL runs
            applier.apply_ddl(tx, [(INSERT_SQL, row), clear_sql], may_have_run, idempotent)
            log.info("job %s: applied DDL of %s", self.job_id, tx.ident)
        return run

    @property
    def low_water(self) -> int:
        return self._pool.low_water

    @property
    def idle(self) -> bool:
        """Everything submitted has committed."""
        return self._pool.low_water >= self._seq

    def maintain(self, force: bool = False) -> None:
        """Update stats from what committed and fold the checkpoint now and then."""
        low = self._pool.low_water
        if self._pool.error is not None:
            raise self._pool.error
        last: Transaction | None = None
        for seq in [s for s in self._inflight if s <= low]:
            last = self._inflight.pop(seq)
            self._stats.exec_master_tx_count += 1
            self._stats.exec_master_row_count += last.row_count
        if last is not None:
            coords = self._stats.current_coordinates
            coords.file, coords.position = last.file, last.pos
            self._stats.set_delay_from(last.timestamp)
        now = time.monotonic()
        if (force or now >= self._next_fold) and low > self._folded:
            self._next_fold = now + FOLD_INTERVAL
            self._store.fold(low)
            self._folded = low
            if self.checkpoint is not None:
                self._stats.current_coordinates.gtid_set = str(self.checkpoint.executed)

    def drain(self, timeout: float) -> bool:
        """Wait until everything submitted committed."""
        return self._pool.wait_for(self._seq, timeout)

    def close(self) -> None:
        self._pool.close()
        self._store.close()

    def start_position(self) -> BinlogPosition | None:
        return self.checkpoint.start_position() if self.checkpoint else None
