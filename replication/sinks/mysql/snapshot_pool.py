"""Parallel apply of the full copy on the dest: several target connections at once.

With one connection the dest spends most of the copy waiting for the target to execute its
INSERTs. ``SnapshotPool`` runs K worker threads, each with its own ``SnapshotApplier`` (own
connection), and deals ``SnapshotTable``/``SnapshotChunk`` messages to them in stream order,
round-robin. Per table, commits still follow the stream order, as the checkpoint's seq chain
requires: each message takes a ticket in its table's chain, and a keyed chunk inserts its rows
at once but locks and checks the checkpoint only when every earlier message of its table has
committed (``SnapshotApplier.apply(wait_turn=...)``). A table's DDL and keyless chunks wait for
their turn first; chunks wait for their table's DDL before inserting.

No deadlock: a worker takes its messages in stream order and only waits for earlier messages,
so the earliest unfinished message can always proceed; the early INSERTs of one table's chunks
cover disjoint key ranges. InnoDB deadlocks between tables (first checkpoint rows share a gap)
roll the whole transaction back, and it is applied again.

Each worker acknowledges its entry right after its commit (out of order is fine: an ack deletes
by id). ``drain`` is the barrier before a ``SnapshotDone`` or any other message.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pymysql

from replication.sinks.mysql.snapshot import SnapshotApplier
from replication.stop import StopSignal
from replication.wire.snapshot import SnapshotChunk, SnapshotTable

DEFAULT_WORKERS = 4
# Early INSERTs (LOAD DATA) into one table at once. Two overlap the target's work on one chunk
# with the next; more only contend for the same index pages (measured on one table of
# 1,000,000 rows: two connections took 55-60% of the time of one, four no less than two, for
# more of the target's CPU). A chunk whose rows are in waits for its turn without a slot, so
# the checkpoint work and commits of earlier chunks do not hold the next inserts back.
TABLE_CONNECTIONS = 2
DEADLOCK = 1213
DEADLOCK_RETRIES = 5


class _Cancelled(Exception):
    """A wait given up because the pool is closing, stopped or failed elsewhere."""


@dataclass
class _Chain:
    """One target table's order: tickets handed out in stream order, how many committed."""

    issued: int = 0
    done: int = 0
    ddl: int = -1  # ticket of the table's latest SnapshotTable
    ddl_worker: int = 0  # the worker it went to: the table's next chunk goes there too
    filled: bool = False  # a chunk with rows has committed: the target table is not empty
    inserting: int = 0  # early INSERTs running now (at most TABLE_CONNECTIONS)


@dataclass(frozen=True)
class _Item:
    entry_id: str
    message: SnapshotTable | SnapshotChunk
    chain: _Chain
    ticket: int
    after_ddl: int  # the DDL ticket that must have committed before rows are inserted


class SnapshotPool:
    """Applies full-copy messages on ``workers`` connections; see the module docstring."""

    def __init__(self, make_applier: Callable[[], SnapshotApplier], workers: int,
                 ack: Callable[[str], Any], stop: StopSignal) -> None:
        self._ack = ack
        self._stop = stop
        self._cond = threading.Condition()
        self._chains: dict[tuple[str, str], _Chain] = {}
        self._pending = 0
        self._error: BaseException | None = None
        self._closed = False
        self._next = 0
        self._queues: list[queue.Queue[_Item]] = [queue.Queue() for _ in range(max(1, workers))]
        self._threads = [threading.Thread(target=self._work, args=(q, make_applier()),
                                          name=f"snapshot-apply-{i}", daemon=True)
                         for i, q in enumerate(self._queues)]
        for thread in self._threads:
            thread.start()

    def submit(self, entry_id: str, message: SnapshotTable | SnapshotChunk) -> None:
        """Queue one message; its worker acknowledges ``entry_id`` after the commit."""
        self.check()
        with self._cond:
            chain = self._chains.setdefault((message.target_schema, message.target_table),
                                            _Chain())
            ticket = chain.issued
            chain.issued += 1
            worker = self._next
            if isinstance(message, SnapshotTable):
                chain.ddl, chain.ddl_worker = ticket, worker
            elif ticket == chain.ddl + 1:
                # A table's first chunk waits for its DDL anyway: on the DDL's worker it waits
                # for nobody, and the other workers take the next tables meanwhile.
                worker = chain.ddl_worker
            self._pending += 1
        self._queues[worker].put(_Item(entry_id, message, chain, ticket, chain.ddl))
        if worker == self._next:
            self._next = (self._next + 1) % len(self._queues)

    def check(self) -> None:
        """Raise the first worker error, if any."""
        if self._error is not None:
            raise self._error

    def drain(self) -> bool:
        """Wait until every submitted message is committed and acknowledged; raise a worker's
        error; False when stopped first (then the caller must not go on)."""
        with self._cond:
            while self._pending and self._error is None and not self._stop.is_set():
                self._cond.wait(0.2)
            pending = self._pending
        self.check()
        return pending == 0

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    # -- workers -------------------------------------------------------------------------
    def _work(self, items: queue.Queue[_Item], applier: SnapshotApplier) -> None:
        try:
            while not self._closed and not self._stop.is_set() and self._error is None:
                try:
                    item = items.get(timeout=0.2)
                except queue.Empty:
                    continue
                self._apply(applier, item)
        except _Cancelled:
            pass
        except BaseException as exc:  # reported by the runner through check()/drain()
            with self._cond:
                self._error = self._error or exc
                self._cond.notify_all()
        finally:
            applier.close()

    def _apply(self, applier: SnapshotApplier, item: _Item) -> None:
        chain, message = item.chain, item.message
        if isinstance(message, SnapshotChunk) and item.after_ddl >= 0:
            self._wait(lambda: chain.done > item.after_ddl)
        for attempt in range(DEADLOCK_RETRIES):
            try:
                self._apply_in_turn(applier, item)
                break
            except pymysql.err.OperationalError as exc:
                # The transaction was rolled back as a whole: nothing committed, apply again.
                if exc.args[0] != DEADLOCK or attempt == DEADLOCK_RETRIES - 1:
                    raise
        with self._cond:
            chain.done += 1
            if isinstance(message, SnapshotChunk) and message.row_count:
                chain.filled = True
            self._cond.notify_all()
        self._ack(item.entry_id)
        with self._cond:
            self._pending -= 1
            self._cond.notify_all()

    def _apply_in_turn(self, applier: SnapshotApplier, item: _Item) -> None:
        """Commit in the table's order; a chunk inserts its rows early only into a table that
        already holds rows: MariaDB locks a whole empty table for the first INSERT into it (bulk
        insert with unique_checks=0), which would block the chunks before it."""
        chain = item.chain

        def wait_turn() -> None:
            self._wait(lambda: chain.done == item.ticket)

        if isinstance(item.message, SnapshotChunk) and chain.filled:
            applier.apply(item.message, wait_turn, self._insert_slot(chain))
        else:
            wait_turn()
            applier.apply(item.message)

    @contextmanager
    def _insert_slot(self, chain: _Chain) -> Iterator[None]:
        """One of the table's TABLE_CONNECTIONS slots for an early INSERT. No deadlock: an
        INSERT into its own key range waits for no other chunk, so a slot is always given
        back."""
        with self._cond:
            self._wait_locked(lambda: chain.inserting < TABLE_CONNECTIONS)
            chain.inserting += 1
        try:
            yield
        finally:
            with self._cond:
                chain.inserting -= 1
                self._cond.notify_all()

    def _wait(self, ready: Callable[[], bool]) -> None:
        with self._cond:
            self._wait_locked(ready)

    def _wait_locked(self, ready: Callable[[], bool]) -> None:
        """Until ``ready()`` (checked under the pool's lock, which the caller holds)."""
        while not ready():
            if self._closed or self._error is not None or self._stop.is_set():
                raise _Cancelled()
            self._cond.wait(0.2)
