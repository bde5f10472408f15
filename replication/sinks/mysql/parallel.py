"""Parallel apply: ``parallel_workers`` connections commit independent transactions at once.

The dest hands transactions over in binlog order, each with a sequence number ``seq``. The
scheduler gives each one a dependency ``dep``: it may start once every ``seq <= dep`` has
committed (the *low-water mark*). ``dep`` comes from

- row keys (default): the writeset of a transaction is the set of (table, unique key, values)
  of its before and after images; ``dep`` is the newest earlier transaction sharing one. The
  history keeps ``dependency_history_size`` keys; when it overflows it is cleared and the next
  transaction waits for everything before it;
- the source's commit parents (``use_my_sql_dependency``): MySQL's ``last_committed`` (the
  transaction may run once the one whose ``sequence_number`` equals it committed), or MariaDB's
  group-commit id (members of one group commit run together). MariaDB gives a commit id only to
  transactions that committed in one group with others; the rest, and any transaction without
  commit parents, fall back to row keys (noted once in the log).

DDL, transactions on tables without a usable key, and anything unknown are barriers: they wait
for every earlier transaction and every later one waits for them. Transactions commit out of
order; each commits its own checkpoint row, and the low-water mark says what may be folded.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from replication.sinks.mysql.applier import MySQLApplier, TableKeys
from replication.wire.changes import UPDATE, RowEvent, Transaction

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One unit of work for a worker."""

    tx: Transaction
    seq: int
    dep: int
    barrier: bool
    run: Callable[[MySQLApplier], None]


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
        """(dep, is_barrier) for transaction ``seq``."""
        writeset = None if tx.is_ddl else self._writeset(tx)
        if writeset is None:
            self._barrier = seq
            self._last_writer.clear()
            return seq - 1, True
        dep = self._barrier
        parent = self._parent_dep(tx, seq) if self._use_parents else None
        # Keys are recorded in both modes: a transaction without commit parents falls back to
        # them, so they must cover every transaction before it.
        if len(self._last_writer) + len(writeset) > self._history_size:
            self._last_writer.clear()
            self._barrier = seq - 1
            dep = seq - 1
        if parent is not None:
            dep = max(dep, parent)
        else:
            for key in writeset:
                dep = max(dep, self._last_writer.get(key, 0))
        for key in writeset:
            self._last_writer[key] = seq
        return dep, False

    def _parent_dep(self, tx: Transaction, seq: int) -> int | None:
        """The dep from the source's commit parents; None when the transaction has none."""
        if tx.sequence_number:  # MySQL logical clock
            self._by_sequence[tx.sequence_number] = seq
            parent = self._by_sequence.get(tx.last_committed)
            if len(self._by_sequence) > self._history_size:
                self._by_sequence = {tx.sequence_number: seq}
            return parent if parent is not None else seq - 1
        if tx.last_committed:  # MariaDB group-commit id
            commit_id, group_dep = self._group
            if commit_id != tx.last_committed:
                self._group = (tx.last_committed, seq - 1)
                return seq - 1
            return group_dep
        if not self._noted_no_parents:
            # MariaDB marks only transactions that committed in one group with a commit id;
            # MySQL without binlog_transaction_dependency info writes no logical clock.
            self._noted_no_parents = True
            log.info("use_my_sql_dependency: transaction %s has no commit parents from the "
                     "source; using row-key dependencies for such transactions", tx.ident)
        return None

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


class WorkerPool:
    """Threads, each with its own target connection, running jobs when their dep allows."""

    def __init__(self, appliers: list[MySQLApplier], base_seq: int, max_pending: int = 64) -> None:
        self._appliers = appliers
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_pending)
        self._cond = threading.Condition()
        self.low_water = base_seq
        self._done: set[int] = set()
        self._running_barrier = False
        self.error: BaseException | None = None
        self._threads = [threading.Thread(target=self._work, args=(a,), daemon=True,
                                          name=f"applier-{i}") for i, a in enumerate(appliers)]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job) -> None:
        self._raise_error()
        while True:
            try:
                self._queue.put(job, timeout=0.2)
                return
            except queue.Full:
                self._raise_error()

    def _raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    def _work(self, applier: MySQLApplier) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                applier.close()
                return
            try:
                with self._cond:
                    while self.low_water < job.dep and self.error is None:
                        self._cond.wait(0.5)
                    if self.error is not None:
                        continue
                job.run(applier)
                self._finish(job.seq)
            except BaseException as exc:  # noqa: BLE001 - handed to the main loop, which raises it
                log.error("applier worker failed on %s: %s", job.tx.ident, exc)
                applier.close()
                with self._cond:
                    self.error = self.error or exc
                    self._cond.notify_all()

    def _finish(self, seq: int) -> None:
        with self._cond:
            self._done.add(seq)
            while self.low_water + 1 in self._done:
                self.low_water += 1
                self._done.discard(self.low_water)
            self._cond.notify_all()

    def wait_for(self, seq: int, timeout: float) -> bool:
        """Wait until everything up to ``seq`` committed; False on timeout."""
        with self._cond:
            self._cond.wait_for(lambda: self.low_water >= seq or self.error is not None, timeout)
        self._raise_error()
        return self.low_water >= seq

    def close(self) -> None:
        for _ in self._threads:
            try:
                self._queue.put(None, timeout=5)
            except queue.Full:
                break
        for thread in self._threads:
            thread.join(timeout=10)
