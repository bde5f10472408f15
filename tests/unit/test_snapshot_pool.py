"""SnapshotPool: per-table commit order across workers, acks after commits, errors surface."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

from replication.position import BinlogPosition
from replication.sinks.mysql.snapshot_pool import SnapshotPool
from replication.stop import ManualStop
from replication.wire.snapshot import SnapshotChunk


def _chunk(table: str, seq: int) -> SnapshotChunk:
    return SnapshotChunk("s", table, "s", table, ["id"], False, "", seq, None, b"9", [b"(9)"], 1,
                         False, False, False, BinlogPosition("f.000001", 4, ""))


class _FakeApplier:
    """Records commits; sleeps a random while, as a target executing INSERTs would."""

    def __init__(self, commits: list[tuple[str, int]], lock: threading.Lock,
                 fail_on: tuple[str, int] | None = None) -> None:
        self._commits, self._lock, self._fail_on = commits, lock, fail_on

    def apply(self, message: Any, wait_turn: Any = None, insert_slot: Any = None) -> bool:
        if insert_slot is not None:
            with insert_slot:
                time.sleep(random.random() / 500)  # the early INSERT
        else:
            time.sleep(random.random() / 500)
        if wait_turn is not None:
            wait_turn()
        if (message.source_table, message.seq) == self._fail_on:
            raise RuntimeError("target failed")
        with self._lock:
            self._commits.append((message.source_table, message.seq))
        return True

    def close(self) -> None:
        pass


def _pool(commits: list[tuple[str, int]], acks: list[str],
          fail_on: tuple[str, int] | None = None) -> SnapshotPool:
    lock = threading.Lock()
    return SnapshotPool(lambda: _FakeApplier(commits, lock, fail_on), 3,  # type: ignore[arg-type,return-value]
                        acks.append, ManualStop())


def test_each_table_commits_in_stream_order_and_every_entry_is_acked() -> None:
    commits: list[tuple[str, int]] = []
    acks: list[str] = []
    pool = _pool(commits, acks)
    try:
        for seq in range(1, 41):
            for table in ("a", "b"):
                pool.submit(f"{table}-{seq}", _chunk(table, seq))
        assert pool.drain()
    finally:
        pool.close()
    for table in ("a", "b"):
        assert [seq for t, seq in commits if t == table] == list(range(1, 41))
    assert sorted(acks) == sorted(f"{t}-{s}" for t in ("a", "b") for s in range(1, 41))


def test_a_worker_error_stops_the_pool_and_nothing_after_it_commits() -> None:
    commits: list[tuple[str, int]] = []
    acks: list[str] = []
    pool = _pool(commits, acks, fail_on=("a", 5))
    try:
        for seq in range(1, 11):
            pool.submit(f"a-{seq}", _chunk("a", seq))
        with pytest.raises(RuntimeError, match="target failed"):
            pool.drain()
    finally:
        pool.close()
    assert commits == [("a", seq) for seq in range(1, 5)]
    assert "a-5" not in acks


def test_one_table_has_at_most_table_connections_inserts_at_once() -> None:
    """Four workers, one table: at most TABLE_CONNECTIONS early INSERTs run at once (the
    others wait for a slot), commits keep the table's order; a table's first chunk goes to
    its DDL's worker."""
    from replication.sinks.mysql.snapshot_pool import TABLE_CONNECTIONS
    from replication.wire.snapshot import SnapshotTable

    lock = threading.Lock()
    inserting: list[int] = []
    most = [0]
    workers: dict[int, str] = {}
    commits: list[tuple[str, int]] = []

    class Counting(_FakeApplier):
        def apply(self, message: Any, wait_turn: Any = None, insert_slot: Any = None) -> bool:
            with lock:
                workers[getattr(message, "seq", 0)] = threading.current_thread().name
            if insert_slot is not None:
                with insert_slot:
                    with lock:
                        inserting.append(1)
                        most[0] = max(most[0], len(inserting))
                    time.sleep(random.random() / 500)
                    with lock:
                        inserting.pop()
            if wait_turn is not None:
                wait_turn()
            if isinstance(message, SnapshotChunk):
                with lock:
                    commits.append((message.source_table, message.seq))
            return True

    pool = SnapshotPool(lambda: Counting(commits, lock), 4, lambda _: None,  # type: ignore[arg-type,return-value]
                        ManualStop())
    try:
        pool.submit("t", SnapshotTable("s", "a", "s", "a", "", "", False, "",
                                       BinlogPosition("f.000001", 4, ""), 1, 1))
        for seq in range(1, 61):
            pool.submit(f"a-{seq}", _chunk("a", seq))
        assert pool.drain()
    finally:
        pool.close()
    assert commits == [("a", seq) for seq in range(1, 61)]
    assert 1 <= most[0] <= TABLE_CONNECTIONS < 4
    assert workers[0] == workers[1]  # the DDL (no seq) and the first chunk
