"""Dependencies between transactions for parallel apply: row keys and commit parents."""

from __future__ import annotations

from replication.sinks.mysql.applier import TableKey, TableKeys
from replication.sinks.mysql.parallel import DependencyTracker
from replication.wire.changes import INSERT, UPDATE, RowEvent, Transaction


class _Keys(TableKeys):
    """Every table keyed by ``id``, without a server."""

    def __init__(self) -> None:
        pass

    def get(self, schema: str, table: str) -> TableKey:
        return TableKey(("id",), (("id",),))


def _tx(n: int, ids: list[int], commit_id: int = 0) -> Transaction:
    rows = RowEvent("d", "t", UPDATE, ["id", "n"], [[[i, 0], [i, 1]] for i in ids])
    return Transaction(f"0-1-{n}", "", 0, 0, [rows], last_committed=commit_id)


def test_without_commit_parents_it_falls_back_to_row_keys() -> None:
    tracker = DependencyTracker(_Keys(), 100, use_commit_parents=True)
    deps = [tracker.depends_on(_tx(seq, ids), seq)[0]
            for seq, ids in enumerate([[1], [2], [1], [3]], start=1)]
    assert deps == [0, 0, 1, 0]


def test_members_of_one_group_commit_wait_only_for_what_came_before_the_group() -> None:
    tracker = DependencyTracker(_Keys(), 100, use_commit_parents=True)
    assert tracker.depends_on(_tx(1, [1]), 1)[0] == 0
    assert tracker.depends_on(_tx(2, [2], commit_id=9), 2)[0] == 1
    assert tracker.depends_on(_tx(3, [3], commit_id=9), 3)[0] == 1
    # After the group, a transaction without parents still sees the group's keys.
    assert tracker.depends_on(_tx(4, [3]), 4)[0] == 3


def test_row_keys_order_conflicting_transactions_only() -> None:
    tracker = DependencyTracker(_Keys(), 100, use_commit_parents=False)
    first = Transaction("0-1-1", "", 0, 0, [RowEvent("d", "t", INSERT, ["id"], [[1], [2]])])
    assert tracker.depends_on(first, 1) == (0, False)
    assert tracker.depends_on(_tx(2, [5]), 2) == (0, False)
    assert tracker.depends_on(_tx(3, [2, 5]), 3) == (2, False)


def test_an_overflowing_history_makes_the_next_transaction_wait_for_all_before_it() -> None:
    tracker = DependencyTracker(_Keys(), 2, use_commit_parents=False)
    assert tracker.depends_on(_tx(1, [1, 2]), 1)[0] == 0
    assert tracker.depends_on(_tx(2, [3]), 2)[0] == 1
    assert tracker.depends_on(_tx(3, [4]), 3)[0] == 1
