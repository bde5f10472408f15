"""Parallel apply: ``parallel_workers`` connections commit independent batches at once.

The dest hands transactions over in binlog order; ``batches.BatchQueue`` groups them into
batches (target transactions), each with a sequence number ``seq``. The tracker gives each batch
a dependency ``dep``: it may start once every ``seq <= dep`` has committed (the *low-water
mark*). A transaction joining batch ``seq`` depends on

- row keys (default): the writeset of a transaction is the set of (table, unique key, values)
  of its before and after images; it depends on the newest earlier batch sharing one. The
  history keeps ``dependency_history_size`` keys; when it overflows it is cleared and the
  transaction waits for everything before it (and starts a batch of its own);
- the source's commit parents (``use_my_sql_dependency``): MySQL's ``last_committed`` (it may
  run once the one whose ``sequence_number`` equals it committed), or MariaDB's group-commit id
  (members of one group commit run together). MariaDB gives a commit id only to transactions
  that committed in one group with others; the rest, and any transaction without commit
  parents, fall back to row keys (noted once in the log).

What a transaction shares with earlier members of its own batch costs nothing: a batch applies
its members in order. DDL, transactions on tables without a usable key, and anything unknown are
barriers: they wait for every earlier batch and every later one waits for them. Batches commit
out of order; each commits its own checkpoint row, and the low-water mark says what may be
folded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from replication.sinks.mysql.applier import MySQLApplier
from replication.sinks.mysql.batches import Batch, BatchQueue
from replication.sinks.mysql.keys import TableKeys
from replication.wire.changes import UPDATE, RowEvent, Transaction

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """What joining batch ``seq`` means for one transaction, before the tracker records it."""

    tx: Transaction
    seq: int
    dep: int
    writeset: set[tuple] | None  # None: a barrier
    overflow: bool  # the key history must be cleared first
    first: bool  # the batch's first member


class DependencyTracker:
    """Computes ``dep`` for each transaction in order (see the module docstring)."""

    def __init__(self, keys: TableKeys, history_size: int, use_commit_parents: bool) -> None:
        self._keys = keys
        self._history_size = max(1, history_size)
        self._use_parents = use_commit_parents
        self._last_writer: dict[tuple, int] = {}
        self._barrier = 0
        self._by_sequence: dict[int, int] = {}  # MySQL sequence_number -> seq
        self._group: tuple[int, int] = (0, 0)  # MariaDB (commit id, dep of its group)
        self._noted_no_parents = False

    def depends_on(self, tx: Transaction, seq: int) -> tuple[int, bool]:
        """(dep, is_barrier) for transaction ``seq`` applied as a batch of its own."""
        plan = self.plan(tx, seq, first=True)
        assert plan is not None  # a first member always joins
        self.admit(plan)
        return plan.dep, plan.writeset is None

    def forget_committed(self, low_water: int) -> None:
        """Drop keys last written by batches that committed (every seq <= ``low_water``): a
        dependency on them is met already, and they would only fill the history. Done when the
        history is half full, so the scan stays rare."""
        if len(self._last_writer) > self._history_size // 2:
            self._last_writer = {k: s for k, s in self._last_writer.items() if s > low_water}

    def plan(self, tx: Transaction, seq: int, first: bool) -> Plan | None:
        """What batch ``seq`` waits for if ``tx`` joins it; None when it may not (its keys
        would overflow the history, which only a batch's first member may clear)."""
        writeset = None if tx.is_ddl else self._writeset(tx)
        if writeset is None:
            return Plan(tx, seq, seq - 1, None, False, first)
        overflow = len(self._last_writer) + len(writeset) > self._history_size
        if overflow and not first:
            return None
        dep = seq - 1 if overflow else _outside(self._barrier, seq)
        parent = self._parent_dep(tx, seq) if self._use_parents else None
        if parent is not None:
            dep = max(dep, parent)
        else:
            last_writer = self._last_writer
            for key in writeset:
                dep = max(dep, _outside(last_writer.get(key, 0), seq))
        return Plan(tx, seq, dep, writeset, overflow, first)

    def admit(self, plan: Plan) -> None:
        """Record that ``plan.tx`` joined batch ``plan.seq``."""
        seq = plan.seq
        if plan.writeset is None:
            self._barrier = seq
            self._last_writer.clear()
            return
        if plan.overflow:
            self._last_writer.clear()
            self._barrier = seq - 1
        if self._use_parents:
            self._record_parents(plan.tx, seq, plan.first)
        # Keys are recorded in both modes: a transaction without commit parents falls back to
        # them, so they must cover every transaction before it.
        for key in plan.writeset:
            self._last_writer[key] = seq

    def _parent_dep(self, tx: Transaction, seq: int) -> int | None:
        """The dep from the source's commit parents; None when the transaction has none."""
        if tx.sequence_number:  # MySQL logical clock
            parent = self._by_sequence.get(tx.last_committed)
            return _outside(parent, seq) if parent is not None else seq - 1
        if tx.last_committed:  # MariaDB group-commit id
            commit_id, group_dep = self._group
            return seq - 1 if commit_id != tx.last_committed else _outside(group_dep, seq)
        if not self._noted_no_parents:
            # MariaDB marks only transactions that committed in one group with a commit id;
            # MySQL without binlog_transaction_dependency info writes no logical clock.
            self._noted_no_parents = True
            log.info("use_my_sql_dependency: transaction %s has no commit parents from the "
                     "source; using row-key dependencies for such transactions", tx.ident)
        return None

    def _record_parents(self, tx: Transaction, seq: int, first: bool) -> None:
        if tx.sequence_number:
            self._by_sequence[tx.sequence_number] = seq
            if len(self._by_sequence) > self._history_size:
                self._by_sequence = {tx.sequence_number: seq}
        elif tx.last_committed and self._group[0] != tx.last_committed:
            # Later members wait for what came before this one: the batches before this one,
            # and this batch too when earlier members share it.
            self._group = (tx.last_committed, seq - 1 if first else seq)

    def _writeset(self, tx: Transaction) -> set[tuple] | None:
        keys: set[tuple] = set()
        for change in tx.changes:
            if not isinstance(change, RowEvent):
                continue
            table_key = self._keys.get(change.schema, change.table)
            uniques = [u for u in table_key.uniques if set(u) <= set(change.columns)]
            if not table_key.key or not uniques:
                return None
            index = {c: i for i, c in enumerate(change.columns)}
            images = ([img for pair in change.rows for img in pair] if change.kind == UPDATE
                      else change.rows)
            for unique in uniques:
                # One str per table and key, whose hash Python caches, instead of a tuple of
                # names hashed again for every row: this loop is the dest's hottest.
                name = f"{change.schema}.{change.table}.{','.join(unique)}"
                keys.update([(name, values) for values in _key_values(images, [index[c] for c in unique])])
        return keys


def _key_values(images: list, cols: list[int]) -> list[tuple]:
    """Each image's values of one unique key, normalised so that values the target may hold
    equal collide: str() and lower() ('a' and 'A'); a false dependency only costs parallelism,
    a missed one would cost correctness. Ints stay ints (their str() is no coarser): a column
    holds one type until a DDL, and DDL is a barrier that clears the history."""
    def norm(value: object) -> object:
        return value if type(value) is int else str(value).lower()
    if len(cols) == 1:
        i = cols[0]
        return [(norm(image[i]),) for image in images]
    return [tuple([norm(image[i]) for i in cols]) for image in images]


def _outside(seq: int, batch_seq: int) -> int:
    """A dependency on ``seq`` as seen from batch ``batch_seq``: none if it is that batch."""
    return seq if seq < batch_seq else 0


# What a worker's builder hands its sender: the batch, and the call that applies it.
Prepared = tuple[Batch, Callable[[MySQLApplier], None]]


class WorkerPool:
    """``parallel_workers`` workers, each a target connection with two threads: a builder that
    takes the next batch and renders its SQL, and a sender that waits for the batch's turn and
    sends it. So the next batch is built while the target applies the previous one, and a
    builder takes a batch only when its sender is ready for one (batches keep growing while
    the target is busy) and, while its sender is still applying one, only when no worker is
    idle (``BatchQueue.take``)."""

    def __init__(self, appliers: list[MySQLApplier], batches: BatchQueue,
                 prepare: Callable[[MySQLApplier, Batch], Callable[[MySQLApplier], None]]) -> None:
        self._batches = batches
        self._prepare = prepare
        self._threads: list[threading.Thread] = []
        for i, applier in enumerate(appliers):
            slot = _Slot(batches)
            self._threads += [
                threading.Thread(target=self._build, args=(i, applier, slot), daemon=True,
                                 name=f"builder-{i}"),
                threading.Thread(target=self._send, args=(applier, slot), daemon=True, name=f"applier-{i}")]
        for thread in self._threads:
            thread.start()

    def _build(self, worker: int, applier: MySQLApplier, slot: _Slot) -> None:
        while slot.wait_empty() and (batch := self._batches.take(worker)) is not None:
            try:
                slot.fill((batch, self._prepare(applier, batch)))
            except BaseException as exc:  # noqa: BLE001 - handed to the main loop, which raises it
                self._failed(batch, exc)
                return

    def _send(self, applier: MySQLApplier, slot: _Slot) -> None:
        try:
            while (prepared := slot.take()) is not None:
                batch, apply = prepared
                if not self._batches.wait_turn(batch):
                    return
                try:
                    apply(applier)
                except BaseException as exc:  # noqa: BLE001 - handed to the main loop, which raises it
                    self._failed(batch, exc)
                    return
                self._batches.finish(batch)
        finally:
            applier.close()

    def _failed(self, batch: Batch, exc: BaseException) -> None:
        log.error("applier worker failed on %s: %s", batch.last.ident, exc)
        self._batches.fail(exc)

    def close(self) -> None:
        self._batches.close()
        for thread in self._threads:
            thread.join(timeout=10)


class _Slot:
    """The one batch a builder has ready for its sender."""

    def __init__(self, batches: BatchQueue) -> None:
        self._batches = batches
        self._cond = threading.Condition()
        self._prepared: Prepared | None = None

    def wait_empty(self) -> bool:
        """Until the sender took the last one; False once the queue stopped."""
        with self._cond:
            while self._prepared is not None:
                if self._batches.stopped:
                    return False
                self._cond.wait(0.2)
            return not self._batches.stopped

    def fill(self, prepared: Prepared) -> None:
        with self._cond:
            self._prepared = prepared
            self._cond.notify_all()

    def take(self) -> Prepared | None:
        """The next prepared batch; None once the queue stopped."""
        with self._cond:
            while self._prepared is None:
                if self._batches.stopped:
                    return None
                self._cond.wait(0.2)
            prepared, self._prepared = self._prepared, None
            self._cond.notify_all()
            return prepared
