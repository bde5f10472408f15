"""What the full copy sends from src to dest over the transport.

Per table: one ``SnapshotTable`` (the DDL to create it), then ``SnapshotChunk`` messages in key
order, numbered from 1; the last one has ``last=True``. After every table, one ``SnapshotDone``
carries where incremental replication starts. A chunk is self-contained (target names, columns,
sql_mode), so a dest that restarts in the middle of a table needs nothing it applied earlier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from replication.position import BinlogPosition
from replication.wire import codec


@codec.message("snapshot_table")
@dataclass(frozen=True)
class SnapshotTable:
    """Create one table on the target (unless it is already being copied)."""

    source_schema: str
    source_table: str
    target_schema: str
    target_table: str
    create_database_sql: str  # the source's SHOW CREATE DATABASE, renamed by the dest
    create_table_sql: str  # the source's SHOW CREATE TABLE, renamed by the dest
    column_map: bool  # column_map_from: the target table must already exist
    sql_mode: str  # the source's global sql_mode
    position: BinlogPosition  # the snapshot this table is read in
    rows_estimate: int  # this table's
    job_rows_estimate: int  # all tables', for the dest's progress


@codec.message("snapshot_chunk")
@dataclass(frozen=True)
class SnapshotChunk:
    """Consecutive rows of one table, rendered as SQL ``VALUES`` tuples (or, ``typed``, as
    positional value lists in the binlog decoder's representation, for sinks that need values).

    ``seq`` numbers the chunks of a table from 1 across restarts. For a keyed table
    ``after_key`` is the key the chunk continues after (None for the first) and ``last_key`` the
    key of its last row (the last chunk of a table repeats ``after_key``), both as the rendered
    literals of ``values.key_sql``. ``rows`` are pieces of a ``VALUES`` list: one tuple each, or
    many already joined with commas (or LOAD DATA lines, see ``tsv``); ``row_count`` counts
    the rows in all of them. A keyless table is
    read in one pass; ``restart`` marks its first chunk, before which the dest empties the table.
    """

    source_schema: str
    source_table: str
    target_schema: str
    target_table: str
    columns: list[str]  # source column names, in the order of each tuple
    column_map: bool  # insert positionally into the target's own columns
    sql_mode: str
    seq: int
    after_key: bytes | None
    last_key: bytes | None
    rows: list[Any]  # b"(1,'a',NULL)" per piece, or b"(1,'a'),(2,'b')"; typed: one list per row
    row_count: int
    keyless: bool
    restart: bool
    last: bool
    position: BinlogPosition
    typed: bool = False
    # ``rows`` are LOAD DATA lines (tab-separated fields, each row ending with a newline,
    # backslash escapes, ``\\N`` for NULL, raw bytes) instead of VALUES tuples.
    tsv: bool = False
    # Positions (in ``columns``) of the fields of LOAD DATA lines that hold the hex of the bytes.
    unhex: list[int] = field(default_factory=list)


@codec.message("snapshot_done")
@dataclass(frozen=True)
class SnapshotDone:
    """Every table is copied. Incremental replication reads the binlog from ``start`` (the
    earliest snapshot any table was read in) and applies with idempotent writes until it has
    passed ``end`` (the latest)."""

    start: BinlogPosition
    end: BinlogPosition
    tables: int
    rows: int


SNAPSHOT_MESSAGES = (SnapshotTable, SnapshotChunk, SnapshotDone)
