"""Which chunks a sink applies, skips or refuses, decided from the table's checkpoint
(``TableCheckpoint.continued_by``, shared by the MySQL and Kafka sinks)."""

from __future__ import annotations

import pytest

from replication.errors import TargetError
from replication.position import BinlogPosition
from replication.resume import TableCheckpoint
from replication.wire.codec import decode, encode
from replication.wire.snapshot import SnapshotChunk


def _chunk(seq: int, after: bytes | None, keyless: bool = False) -> SnapshotChunk:
    return SnapshotChunk("s", "t", "s", "t", ["id"], False, "", seq, after, b"9", [b"(9)"], 1,
                         keyless, False, False, BinlogPosition("f.000001", 4, "0-1-1"))


def test_it_applies_the_chunk_that_continues_the_checkpoint() -> None:
    cp = TableCheckpoint(seq=3, last_key=b"5")
    assert cp.continued_by(_chunk(4, b"5"), "the target")


def test_it_skips_a_chunk_already_applied() -> None:
    cp = TableCheckpoint(seq=3, last_key=b"5")
    assert not cp.continued_by(_chunk(3, b"4"), "the target")


def test_it_refuses_a_gap_or_a_different_key() -> None:
    cp = TableCheckpoint(seq=3, last_key=b"5")
    with pytest.raises(TargetError, match="chunk 5 arrived but the target holds chunks up to 3"):
        cp.continued_by(_chunk(5, b"7"), "the target")
    # 'a' and 'A' may be equal by collation; keys compare by their bytes.
    with pytest.raises(TargetError, match="continue"):
        TableCheckpoint(3, b"_utf8mb4 X'61'").continued_by(_chunk(4, b"_utf8mb4 X'41'"), "the target")


def test_a_keyless_chunk_continues_by_number_alone() -> None:
    assert TableCheckpoint(seq=1).continued_by(_chunk(2, None, keyless=True), "the target")


def test_chunks_cross_the_wire_unchanged() -> None:
    chunk = _chunk(1, None)
    assert decode(encode(chunk)) == chunk
