"""Which source transactions share a target transaction, and when the dest may go on."""

from __future__ import annotations

import threading

import pytest

from replication.errors import Stopped
from replication.sinks.mysql.applier import TableKey, TableKeys
from replication.sinks.mysql.batches import Batch, BatchQueue, Pending
from replication.sinks.mysql.parallel import DependencyTracker
from replication.stop import ManualStop
from replication.wire.changes import DDL, UPDATE, RowEvent, Transaction


class _Keys(TableKeys):
    """Every table keyed by ``id``, without a server."""

    def __init__(self) -> None:
        pass

    def get(self, schema: str, table: str) -> TableKey:
        return TableKey(("id",), (("id",),))


def _row(n: int, ids: list[int], gtid: bool = True) -> Pending:
    rows = RowEvent("d", "t", UPDATE, ["id", "n"], [[[i, 0], [i, 1]] for i in ids])
    return Pending(Transaction(f"0-1-{n}" if gtid else "", "f", n, 0, [rows]), frozenset(), 100)


def _ddl(n: int) -> Pending:
    tx = Transaction(f"0-1-{n}", "f", n, 0, [DDL("d", "ALTER TABLE t ADD c INT")])
    return Pending(tx, frozenset(), 100)


def _queue(*items: Pending, tracker: DependencyTracker | None = None, max_batch_bytes: int = 1 << 20,
           max_waiting_bytes: int = 1 << 22, workers: int = 1) -> BatchQueue:
    queue = BatchQueue(0, tracker, max_batch_bytes=max_batch_bytes, max_waiting_bytes=max_waiting_bytes,
                       workers=workers)
    for item in items:
        queue.put(item, ManualStop())
    return queue


def _idents(queue: BatchQueue) -> list[list[str]]:
    """The batches one worker would take, in order, finishing each."""
    out = []
    while queue.submitted > queue.committed:
        batch = queue.take()
        assert batch is not None and queue.wait_turn(batch)
        out.append([item.tx.gtid or f"pos {item.tx.pos}" for item in batch.items])
        queue.finish(batch)
    return out


def test_one_worker_takes_everything_waiting_as_one_batch() -> None:
    queue = _queue(*[_row(n, [n]) for n in range(1, 6)])
    assert _idents(queue) == [["0-1-1", "0-1-2", "0-1-3", "0-1-4", "0-1-5"]]
    assert queue.committed == 5 and queue.low_water == 1


def test_a_ddl_is_a_batch_of_its_own() -> None:
    queue = _queue(_row(1, [1]), _row(2, [2]), _ddl(3), _row(4, [4]))
    assert _idents(queue) == [["0-1-1", "0-1-2"], ["0-1-3"], ["0-1-4"]]


def test_a_transaction_without_gtid_ends_its_batch() -> None:
    queue = _queue(_row(1, [1]), _row(2, [2], gtid=False), _row(3, [3], gtid=False), _row(4, [4]))
    assert _idents(queue) == [["0-1-1", "pos 2"], ["pos 3"], ["0-1-4"]]


def test_a_batch_stops_at_its_size_limit() -> None:
    queue = _queue(*[_row(n, [n]) for n in range(1, 6)], max_batch_bytes=250)
    assert _idents(queue) == [["0-1-1", "0-1-2"], ["0-1-3", "0-1-4"], ["0-1-5"]]


def test_with_several_workers_a_conflict_with_a_batch_in_flight_starts_the_next_batch() -> None:
    tracker = DependencyTracker(_Keys(), 100, use_commit_parents=False)
    queue = _queue(_row(1, [1]), _row(2, [2]), tracker=tracker)
    first = queue.take()
    assert first is not None and len(first.items) == 2 and first.dep == 0
    for item in (_row(3, [3]), _row(4, [1]), _row(5, [5])):
        queue.put(item, ManualStop())
    second = queue.take()  # 0-1-4 writes key 1, which the first batch (in flight) writes too
    assert second is not None and [i.tx.gtid for i in second.items] == ["0-1-3"] and second.dep == 0
    third = queue.take()
    assert third is not None and [i.tx.gtid for i in third.items] == ["0-1-4", "0-1-5"]
    assert third.dep == first.seq
    queue.finish(second)  # out of order: nothing is committed until the first batch is
    assert queue.committed == 0 and queue.low_water == 0
    queue.finish(first)
    assert queue.committed == 3 and queue.low_water == second.seq


def test_a_worker_still_holding_a_batch_leaves_the_next_one_to_an_idle_worker() -> None:
    """Worker 0's batch is stuck (on a lock wait on the target, say). Both workers wait for the
    next batch; it goes to the idle worker 1, so it does not wait behind the stuck one. Once no
    worker is idle, worker 0 may take one to build it meanwhile."""
    tracker = DependencyTracker(_Keys(), 100, use_commit_parents=False)
    queue = _queue(_row(1, [1]), tracker=tracker, workers=2)
    stuck = queue.take(0)
    assert stuck is not None and stuck.worker == 0
    taken: dict[int, Batch | None] = {}
    builders = [threading.Thread(target=lambda w=w: taken.setdefault(w, queue.take(w)), daemon=True)
                for w in (0, 1)]
    try:
        for builder in builders:
            builder.start()
        queue.put(_row(2, [2]), ManualStop())
        builders[1].join(10)
        second = taken.get(1)
        assert second is not None and [i.tx.gtid for i in second.items] == ["0-1-2"], taken
        queue.put(_row(3, [3]), ManualStop())  # both workers busy now: worker 0 builds ahead
        builders[0].join(10)
        third = taken.get(0)
        assert third is not None and [i.tx.gtid for i in third.items] == ["0-1-3"], taken
        assert (second.worker, third.worker) == (1, 0)
    finally:
        queue.close()


def test_what_follows_a_ddl_is_taken_only_once_the_ddl_committed() -> None:
    queue = _queue(_ddl(1), _row(2, [2]))
    ddl = queue.take()
    assert ddl is not None
    taken: list[object] = []
    worker = threading.Thread(target=lambda: taken.append(queue.take()))
    worker.start()
    worker.join(0.3)
    assert worker.is_alive() and not taken
    queue.finish(ddl)
    worker.join(5)
    assert taken and taken[0] is not None


def test_a_full_queue_makes_the_submitter_wait_and_a_stop_ends_the_wait() -> None:
    queue = _queue(_row(1, [1]), max_waiting_bytes=150)
    stop = ManualStop()
    calls: list[int] = []
    threading.Timer(0.5, stop.set).start()
    with pytest.raises(Stopped):
        queue.put(_row(2, [2]), stop, lambda: calls.append(1))
    assert queue.submitted == 1 and calls, "the waiting submitter keeps the monitor current"


def test_keys_of_committed_batches_do_not_fill_the_history() -> None:
    tracker = DependencyTracker(_Keys(), 4, use_commit_parents=False)
    queue = _queue(_row(1, [1, 2, 3]), tracker=tracker)
    first = queue.take()
    assert first is not None
    queue.finish(first)
    queue.put(_row(2, [4, 5]), ManualStop())
    queue.put(_row(3, [6]), ManualStop())
    second = queue.take()  # without forgetting batch 1's keys, 0-1-2 would overflow the history
    assert second is not None and [i.tx.gtid for i in second.items] == ["0-1-2", "0-1-3"]
    assert second.dep == 0
