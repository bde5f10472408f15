"""Reading one source table of the full copy, chunk by chunk, inside its own snapshot.

A keyed table is paged by its key (``WHERE key > last ORDER BY key LIMIT chunk_size``), so a
restart continues after the last key the target applied. A table without a usable key is read in
one streamed ``SELECT`` (unbuffered cursor) and restarts from its first row after a crash: its
first chunk is marked ``restart`` and the dest empties the target table in that chunk's
transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pymysql.cursors

from replication.errors import SourceError, Stopped
from replication.mysql import quote_ident
from replication.position import BinlogPosition
from replication.schema import TableSpec
from replication.snapshot_checkpoint import TableCheckpoint
from replication.snapshot_messages import SnapshotChunk, SnapshotTable
from replication.snapshot_source import open_snapshot
from replication.values import after_key_condition, key_sql, row_sql, split_key

log = logging.getLogger(__name__)

Send = Callable[[Any], object]
StopCheck = Callable[[], bool]


class TableReader:
    """Reads one table through one source connection and sends its messages."""

    def __init__(self, conn: Any, spec: TableSpec, checkpoint: TableCheckpoint, sql_mode: str,
                 chunk_size: int, send: Send, stopped: StopCheck, job_rows: int = 0) -> None:
        self._conn = conn
        self._spec = spec
        self._cp = checkpoint
        self._sql_mode = sql_mode
        self._chunk_size = max(1, chunk_size)
        self._send = send
        self._stopped = stopped
        self._job_rows = job_rows
        self.rows_read = 0
        m = spec.mapping
        self._from = f"{quote_ident(m.source_schema)}.{quote_ident(m.source_table)}"
        self._where = f"({m.where})" if m.where else ""
        self._row_expr = f"CAST({row_sql(spec.columns)} AS BINARY)"

    def run(self) -> BinlogPosition:
        """Send the table's schema and chunks; the snapshot position it was read at."""
        position = open_snapshot(self._conn)
        self._send(self._table_message(position))
        if self._spec.key:
            self._read_keyed(position)
        else:
            self._read_keyless(position)
        # Ending the read-only snapshot releases its view. On failure the caller closes the
        # connection instead, which does not drain an unbuffered result first.
        self._conn.rollback()
        return position

    def _table_message(self, position: BinlogPosition) -> SnapshotTable:
        m = self._spec.mapping
        return SnapshotTable(m.source_schema, m.source_table, m.target_schema, m.target_table,
                             self._spec.create_database_sql, self._spec.create_table_sql,
                             bool(m.columns), self._sql_mode, position,
                             self._spec.rows_estimate, self._job_rows)

    def _chunk(self, position: BinlogPosition, seq: int, after: bytes | None,
               last_key: bytes | None, rows: list[bytes], restart: bool,
               last: bool) -> SnapshotChunk:
        m = self._spec.mapping
        return SnapshotChunk(
            m.source_schema, m.source_table, m.target_schema, m.target_table,
            [c.name for c in self._spec.columns], bool(m.columns), self._sql_mode, seq,
            after, last_key, rows, not self._spec.key, restart, last, position,
        )

    def _check_stop(self) -> None:
        if self._stopped():
            raise Stopped("stop requested during the full copy")

    def _keyed_select(self, after: bytes | None) -> bytes:
        key_names = tuple(c.name for c in self._spec.key)
        conditions = [self._where.encode()] if self._where else []
        if after is not None:
            literals = split_key(after, len(key_names))
            conditions.append(b"(" + after_key_condition(key_names, literals) + b")")
        where = b" WHERE " + b" AND ".join(conditions) if conditions else b""
        order = ", ".join(quote_ident(n) for n in key_names)
        head = (f"SELECT {self._row_expr}, CAST({key_sql(self._spec.key)} AS BINARY) "
                f"FROM {self._from}").encode()
        return head + where + f" ORDER BY {order} LIMIT {self._chunk_size}".encode()

    def _read_keyed(self, position: BinlogPosition) -> None:
        seq, after = self._cp.seq, self._cp.last_key
        while True:
            self._check_stop()
            with self._conn.cursor() as cur:
                cur.execute(self._keyed_select(after))
                fetched = cur.fetchall()
            rows = [row for row, _ in fetched]
            self._check_rendered(rows)
            last_key = fetched[-1][1] if fetched else after
            last = len(fetched) < self._chunk_size
            seq += 1
            self._send(self._chunk(position, seq, after, last_key, rows, False, last))
            self.rows_read += len(rows)
            after = last_key
            if last:
                return

    def _read_keyless(self, position: BinlogPosition) -> None:
        sql = f"SELECT {self._row_expr} FROM {self._from}"
        if self._where:
            sql += f" WHERE {self._where}"
        seq, restart = self._cp.seq, True
        # Not a context manager: closing an unfinished unbuffered cursor reads the whole rest.
        cur = self._conn.cursor(pymysql.cursors.SSCursor)
        cur.execute(sql)
        while True:
            self._check_stop()
            rows = [row for (row,) in cur.fetchmany(self._chunk_size)]
            self._check_rendered(rows)
            last = len(rows) < self._chunk_size
            seq += 1
            self._send(self._chunk(position, seq, None, None, rows, restart, last))
            self.rows_read += len(rows)
            restart = False
            if last:
                cur.close()
                return

    def _check_rendered(self, rows: list[bytes | None]) -> None:
        # CONCAT yields NULL (with a warning) when the row text exceeds max_allowed_packet.
        if any(row is None for row in rows):
            raise SourceError(
                f"a row of {self._spec.name} is too large to copy; raise the source's "
                "max_allowed_packet above twice the largest row")
