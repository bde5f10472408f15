"""What the binlog reader yields and the src sends: source transactions and their changes.

Rows travel as positional lists beside one column-name list per row event (not one dict per
row): it halves the wire size and lets the applier hand rows straight to ``executemany``.
Names are those in force when the row was written (from the table map's metadata, or the src's
schema history when the binlog has no column names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from replication.position import BinlogPosition
from replication.wire import codec

INSERT = "insert"
UPDATE = "update"
DELETE = "delete"


@codec.message("rows")
@dataclass
class RowEvent:
    """Consecutive row changes of one kind to one table. ``rows`` holds one image per row for
    inserts (after) and deletes (before), and ``[before, after]`` pairs for updates."""

    schema: str
    table: str
    kind: str
    columns: list[str]
    rows: list[Any]

    def images(self) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
        """(before, after) dicts keyed by column name, for readers that want names."""
        cols = self.columns
        if self.kind == INSERT:
            return [(None, dict(zip(cols, r, strict=True))) for r in self.rows]
        if self.kind == DELETE:
            return [(dict(zip(cols, r, strict=True)), None) for r in self.rows]
        return [(dict(zip(cols, b, strict=True)), dict(zip(cols, a, strict=True)))
                for b, a in self.rows]


@codec.message("ddl")
@dataclass
class DDL:
    """A schema change. ``schema`` is the session's default database when it ran; after the src
    rewrote it, ``statement`` names every table fully qualified with target names."""

    schema: str
    statement: str


@codec.message("tx")
@dataclass
class Transaction:
    """One source transaction, never split or merged. ``file``/``pos`` are where it ends.
    ``last_committed``/``sequence_number`` are MySQL's commit parents (MariaDB: the group
    commit id in ``last_committed``, 0 in ``sequence_number``); 0 when absent."""

    gtid: str
    file: str
    pos: int
    timestamp: int
    changes: list[RowEvent | DDL] = field(default_factory=list)
    last_committed: int = 0
    sequence_number: int = 0
    row_count: int = 0

    @property
    def is_ddl(self) -> bool:
        return any(isinstance(c, DDL) for c in self.changes)

    @property
    def ident(self) -> str:
        """The transaction's identity for checkpoints: its GTID, or file:pos without one."""
        return self.gtid or f"{self.file}:{self.pos}"


def estimate_size(tx: Transaction) -> int:
    """A cheap stand-in for a transaction's encoded size, which bounds what the src groups
    into one message and what each side holds in memory (encoding to measure would cost more
    than it tells). Python objects take several times this."""
    size = 64
    for change in tx.changes:
        if isinstance(change, RowEvent):
            size += len(change.rows) * (len(change.columns) * 9 + 4) * (2 if change.kind == UPDATE else 1)
        else:
            size += len(change.statement)
    return size


@codec.message("txgroup")
@dataclass
class TransactionGroup:
    """The transport unit of the incremental stage: transactions in binlog order, and the
    position after the last one (with every GTID read so far), where a restarted src resumes."""

    transactions: list[Transaction]
    end: BinlogPosition


@codec.message("incr_start")
@dataclass
class IncrementalStart:
    """Sent once when incremental replication begins: where it starts, and up to where the
    target may already hold the effects (the full copy's latest read), so replay must be
    idempotent until then."""

    position: BinlogPosition
    replay_until: BinlogPosition | None = None
