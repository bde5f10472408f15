"""What a sink has durably applied, as the src needs it to know where to continue, and the
src's schema history kept beside it.

Each sink keeps its checkpoints where its data lands (a MySQL target: tables in the target,
written in the same transactions as the rows; Kafka: records committed in the same Kafka
transactions as the messages) and provides a ``ResumeStore`` that reads them back. The src asks
it, never a particular target, so it runs the same for every kind of sink.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from replication.errors import TargetError
from replication.position import BinlogPosition
from replication.source.schema import SchemaVersion
from replication.wire.snapshot import SnapshotChunk


@dataclass(frozen=True)
class TableCheckpoint:
    """What the target holds of one table."""

    seq: int = 0
    last_key: bytes | None = None
    rows_done: int = 0
    keyless: bool = False
    done: bool = False
    start: BinlogPosition = BinlogPosition()
    end: BinlogPosition = BinlogPosition()

    def continued_by(self, msg: SnapshotChunk, holder: str) -> bool:
        """True when ``msg`` is this table's next chunk; False when it is already held; raises
        ``TargetError`` when chunks are missing or ``msg`` does not start after the last key
        (``holder`` names what holds the chunks: "the target", "the topic")."""
        if msg.seq <= self.seq:
            return False
        name = f"{msg.source_schema}.{msg.source_table}"
        if msg.seq > self.seq + 1:
            raise TargetError(f"full copy of {name}: chunk {msg.seq} arrived but {holder} holds "
                              f"chunks up to {self.seq}; chunks are missing")
        if not msg.keyless and msg.after_key != self.last_key:
            raise TargetError(f"full copy of {name}: chunk {msg.seq} does not continue after the "
                              f"last key {holder} holds")
        return True


@dataclass(frozen=True)
class SnapshotResume:
    """Where a restarted full copy continues: per source ``(schema, table)``, and whether the
    whole copy is already finished (``done`` holds its start/end positions then)."""

    tables: dict[tuple[str, str], TableCheckpoint] = field(default_factory=dict)
    done: tuple[BinlogPosition, BinlogPosition] | None = None

    @property
    def rows_done(self) -> int:
        return sum(t.rows_done for t in self.tables.values())


class ResumeStore(Protocol):
    """Reads back what one job's sink has applied."""

    def incremental_start(self) -> BinlogPosition | None:
        """Where the binlog continues (every transaction up to it applied), or None when
        incremental replication never started."""
        ...

    def snapshot_resume(self) -> SnapshotResume:
        """The full copy's per-table progress, and whether it finished."""
        ...

    def record_schema(self, versions: Sequence[SchemaVersion]) -> None:
        """Keep table definition versions durably before returning (the src calls it before it
        sends anything after the DDL that made them). Idempotent: a version already kept
        (same ``schema``, ``table`` and ``ident``) stays as it was, in its original order."""
        ...

    def schema_at(self, position: BinlogPosition) -> dict[tuple[str, str], SchemaVersion]:
        """Per table, the newest version kept at or before ``position``
        (``SchemaHistory.at``); empty when none was ever kept."""
        ...

    def close(self) -> None:
        """Release what the store holds open (the src task is ending)."""
        ...
