"""Source transactions waiting for the dest's workers, and the target transactions they become.

The dest's main thread puts source transactions here in binlog order; a free worker takes
*everything waiting* (up to ``MAX_BATCH_BYTES``) as one ``Batch``: one target transaction, one
checkpoint row listing every GTID it covers. So a target that keeps up commits each source
transaction on its own, and one that falls behind commits many per round trip and fsync,
without any waiting to fill a batch. Exactly once holds because a batch commits atomically
with its checkpoint row; the src's grouping plays no part in it.

Who may share a batch, and what runs in parallel:

- a DDL is a batch of its own (it commits by itself);
- a transaction without a GTID that changes rows ends its batch: the checkpoint row records its
  file/pos, which is how a restart knows it was applied (one the filters emptied changes
  nothing if applied again);
- with several workers, each batch gets a ``seq`` and a ``dep`` from the ``DependencyTracker``
  (it starts once every batch up to ``dep`` committed); a transaction that would make a batch
  wait for another batch in flight starts the next batch instead. With one worker batches run
  strictly in order and no dependencies are computed.

Who takes a batch: a worker builds its next batch while its connection still applies the
previous one, but only when no worker is idle. A worker whose batch is stuck (a lock wait on
the target, a dependency) would otherwise hold a batch that could run, and that batch, though
independent, would wait as long as the stuck one.

Memory: what waits here is bounded by ``MAX_WAITING_BYTES`` (estimated); ``put`` blocks past it,
so the rest stays in the transport, itself bounded by ``repl_chan_buffer_size``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from replication.errors import Stopped
from replication.stop import StopSignal
from replication.wire.changes import Transaction

if TYPE_CHECKING:  # parallel.py runs the batches formed here
    from replication.sinks.mysql.parallel import DependencyTracker

MAX_BATCH_BYTES = 1 << 20
MAX_WAITING_BYTES = 4 << 20


@dataclass
class Pending:
    """One source transaction waiting for a worker."""

    tx: Transaction
    idempotent: frozenset[tuple[str, str]]  # tables to write idempotently (full-copy window)
    size: int  # estimated bytes
    ordinal: int = 0  # its place among every transaction put here: 1, 2, ...


@dataclass
class Batch:
    """Consecutive source transactions applied as one target transaction."""

    seq: int
    dep: int
    items: list[Pending]
    worker: int = 0  # who took it

    @property
    def last(self) -> Transaction:
        return self.items[-1].tx


class BatchQueue:
    """The hand-over between the dest's main thread and its workers (see the module docstring).

    ``low_water`` is the highest ``seq`` such that every batch up to it committed; ``committed``
    the highest ordinal such that every transaction up to it committed."""

    def __init__(self, base_seq: int, tracker: DependencyTracker | None,
                 on_commit: Callable[[int], None] | None = None,
                 max_batch_bytes: int = MAX_BATCH_BYTES, max_waiting_bytes: int = MAX_WAITING_BYTES,
                 workers: int = 1) -> None:
        self._tracker = tracker
        self._on_commit = on_commit
        self._max_batch = max_batch_bytes
        self._max_waiting = max_waiting_bytes
        self._cond = threading.Condition()
        self._waiting: deque[Pending] = deque()
        self._waiting_bytes = 0
        self._seq = base_seq
        self.low_water = base_seq
        self.submitted = 0
        self.committed = 0
        self._done: set[int] = set()
        self._last_ordinal: dict[int, int] = {}  # seq -> its last ordinal, until low water
        self._finished: list[Batch] = []
        self._last_ddl = 0  # seq of the newest DDL batch
        self._held = [0] * workers  # batches each worker took and has not finished
        self._closed = False
        self.error: BaseException | None = None

    # -- the main thread ----------------------------------------------------------------
    def put(self, item: Pending, stop: StopSignal, while_waiting: Callable[[], None] | None = None) -> None:
        """Queue one transaction, waiting while the queue is over its budget (calling
        ``while_waiting`` now and then, e.g. to keep the monitor current); raises ``Stopped``
        if ``stop`` is set meanwhile (the caller must not acknowledge the entry)."""
        while True:
            with self._cond:
                self._raise_error()
                if not self._waiting or self._waiting_bytes + item.size <= self._max_waiting:
                    self.submitted += 1
                    item.ordinal = self.submitted
                    self._waiting.append(item)
                    self._waiting_bytes += item.size
                    self._cond.notify_all()
                    return
                if stop.is_set():
                    raise Stopped("stop requested")
                self._cond.wait(0.2)
            if while_waiting is not None:
                while_waiting()

    def take_finished(self) -> list[Batch]:
        """Batches committed since the last call (for stats)."""
        with self._cond:
            finished, self._finished = self._finished, []
            return finished

    def wait_for(self, ordinal: int, timeout: float) -> bool:
        """Wait until every transaction up to ``ordinal`` committed; False on timeout."""
        with self._cond:
            self._cond.wait_for(lambda: self.committed >= ordinal or self.error is not None, timeout)
            self._raise_error()
            return self.committed >= ordinal

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _raise_error(self) -> None:
        if self.error is not None:
            raise self.error

    # -- the workers --------------------------------------------------------------------
    def take(self, worker: int = 0) -> Batch | None:
        """The next batch for ``worker`` once something waits (and a DDL before it committed:
        what follows a DDL is built with the table definitions it leaves; and, while
        ``worker`` still holds a batch, once no worker is idle); None when closed or failed."""
        held = self._held
        with self._cond:
            self._cond.wait_for(lambda: self.stopped or (
                self._waiting and self.low_water >= self._last_ddl
                and (held[worker] == 0 or 0 not in held)))
            if self.stopped:
                return None
            batch = self._form()
            batch.worker = worker
            held[worker] += 1
            if batch.last.is_ddl:
                self._last_ddl = batch.seq
            self._cond.notify_all()  # room for the main thread's put
            return batch

    def wait_turn(self, batch: Batch) -> bool:
        """Wait until every batch ``batch`` depends on committed; False when closed or failed."""
        with self._cond:
            self._cond.wait_for(lambda: self.stopped or self.low_water >= batch.dep)
            return not self.stopped

    @property
    def stopped(self) -> bool:
        return self._closed or self.error is not None

    def finish(self, batch: Batch) -> None:
        with self._cond:
            self._held[batch.worker] -= 1
            self._done.add(batch.seq)
            self._last_ordinal[batch.seq] = batch.items[-1].ordinal
            self._finished.append(batch)
            while self.low_water + 1 in self._done:
                self.low_water += 1
                self._done.discard(self.low_water)
                self.committed = self._last_ordinal.pop(self.low_water)
            committed = self.committed
            self._cond.notify_all()
        if self._on_commit is not None:
            self._on_commit(committed)

    def fail(self, exc: BaseException) -> None:
        with self._cond:
            self.error = self.error or exc
            self._cond.notify_all()

    def _form(self) -> Batch:
        """Take the longest run of waiting transactions that may share one target transaction."""
        seq = self._seq + 1
        self._seq = seq
        if self._tracker is not None:
            self._tracker.forget_committed(self.low_water)
        items: list[Pending] = []
        size = dep = 0
        while self._waiting:
            item = self._waiting[0]
            tx = item.tx
            if items and (tx.is_ddl or size + item.size > self._max_batch):
                break
            if self._tracker is None:
                tx_dep = seq - 1  # one worker: batches run in order anyway
            else:
                plan = self._tracker.plan(tx, seq, first=not items)
                if plan is None or (items and plan.dep > max(dep, self.low_water)):
                    break  # it would make this batch wait for another one: it starts the next
                self._tracker.admit(plan)
                tx_dep = plan.dep
            self._waiting.popleft()
            self._waiting_bytes -= item.size
            items.append(item)
            size += item.size
            dep = max(dep, tx_dep)
            if tx.is_ddl or (not tx.gtid and tx.changes):
                break
        return Batch(seq, dep, items)
