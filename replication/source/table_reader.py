"""Reading one source table of the full copy, chunk by chunk, inside its own snapshot.

A keyed table is paged by its key (``WHERE key > last ORDER BY key LIMIT chunk_size``), so a
restart continues after the last key the target applied. A table without a usable key is read in
one streamed ``SELECT`` (unbuffered cursor) and restarts from its first row after a crash: its
first chunk is marked ``restart`` and the dest empties the target table in that chunk's
transaction.

The table's definition is read inside its snapshot, after the first read took the table's
metadata lock (no DDL passes it until the snapshot ends), so the columns read, the key paged by
and the target's ``CREATE TABLE`` are those of the rows copied, whatever DDL ran on the source
since the tables were listed. A DDL that commits between the snapshot's start and that first
read either makes the read fail (error 1412, a rebuilt table) or, done in place (MariaDB's
instant ADD/DROP COLUMN), shows the snapshot's rows in the new shape, which the binlog from the
snapshot's position cannot follow: the definition is compared with the one read just before
the snapshot opened, and the snapshot is opened again until they agree.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pymysql.cursors
import pymysql.err

from replication.errors import SourceError, Stopped
from replication.mysql import quote_ident
from replication.position import BinlogPosition
from replication.resume import TableCheckpoint
from replication.source.consistent import open_snapshot, prepare_read_session
from replication.source.schema import SchemaVersion, read_table_def
from replication.source.tables import TableSpec, describe_table
from replication.source.typed_values import RowConverter, select_list
from replication.source.values import (
    after_key_condition,
    key_sql,
    row_sql,
    split_key,
    tsv_capable,
    tsv_hex,
    tsv_lines,
    tsv_raw,
    tsv_row_sql,
    tsv_wide_select,
    up_to_key_condition,
)
from replication.wire.snapshot import SnapshotChunk, SnapshotTable

log = logging.getLogger(__name__)

Send = Callable[[Any], object]
# Largest pre-joined chunk text; it must fit the target's max_allowed_packet (4 MiB on MySQL 5.7).
JOINED_LIMIT = 2 * 1024 * 1024
StopCheck = Callable[[], bool]
# A chunk holds chunk_size rows, or fewer when its rows would pass this many bytes: wide rows
# (TEXT/BLOB) travel and apply in bounded pieces, whatever chunk_size says.
CHUNK_BYTES = JOINED_LIMIT * 3 // 4  # with room: a chunk past JOINED_LIMIT is read again row by row
SAMPLE_ROWS = 16
# Rows at least this wide as rendered are fetched as their columns' bytes and escaped here
# (``values.tsv_wide_select``): per byte that costs less than the source's REPLACE or the
# target's UNHEX, and per row the Python work is small next to the row's bytes.
WIDE_ROW_BYTES = 2048
KEYLESS_FETCH = 256
RecordSchema = Callable[[list[SchemaVersion]], None]
ER_TABLE_DEF_CHANGED = 1412
ER_NO_SUCH_TABLE = 1146
_AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")
# Snapshots opened for one table before giving up on a source that alters it without pause.
SNAPSHOT_ATTEMPTS = 20


class TableReader:
    """Reads one table through one source connection and sends its messages."""

    def __init__(self, conn: Any, spec: TableSpec, checkpoint: TableCheckpoint, sql_mode: str,
                 chunk_size: int, send: Send, stopped: StopCheck, job_rows: int = 0,
                 record_schema: RecordSchema | None = None, typed: bool = False) -> None:
        self._conn = conn
        self._typed = typed
        self._convert = RowConverter(spec.columns) if typed else None
        self._record_schema = record_schema
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
        self._typed_select = f"SELECT {select_list(spec.columns)} FROM {self._from}"
        self._wide = False  # decided by the table's first rows (_first_page)

    def _render(self) -> tuple[bool, str, str]:
        """(tab-separated?, one row's expression, the separator of joined rows): rows travel
        as LOAD DATA lines when every column can, else as VALUES tuples."""
        if tsv_capable(self._spec.columns):
            return True, f"CAST({tsv_row_sql(self._spec.columns)} AS BINARY)", "''"
        return False, f"CAST({row_sql(self._spec.columns)} AS BINARY)", "','"

    @property
    def spec(self) -> TableSpec:
        """The table as its snapshot holds it (after ``run``), else as it was listed."""
        return self._spec

    def run(self) -> BinlogPosition:
        """Send the table's schema and chunks; the snapshot position it was read at."""
        position = self._open()
        self._record_definition(position)
        self.read_rows(position)
        # Ending the read-only snapshot releases its view. On failure the caller closes the
        # connection instead, which does not drain an unbuffered result first.
        self._conn.rollback()
        return position

    def read_rows(self, position: BinlogPosition) -> None:
        """Send the table's schema and chunks from the snapshot the connection has open (at
        ``position``), whose metadata lock on the table is already held."""
        self._send(self._table_message(position))
        if self._spec.key:
            self._read_keyed(position)
        else:
            self._read_keyless(position)

    def _open(self) -> BinlogPosition:
        """Open the table's snapshot, take its metadata lock and describe the table there."""
        prepare_read_session(self._conn)  # SHOW CREATE's text depends on the session's mode
        for _ in range(SNAPSHOT_ATTEMPTS):
            before = self._create_text()
            position = open_snapshot(self._conn)
            if self._lock_definition():
                spec = describe_table(self._conn, self._spec.mapping, self._spec.rows_estimate)
                if comparable_create(spec.create_table_sql) == before:
                    self._use(spec)
                    return position
            self._conn.rollback()
            log.info("%s changed while its snapshot opened; opening another", self._spec.name)
        raise SourceError(f"{self._spec.name} was altered each time its snapshot opened "
                          f"({SNAPSHOT_ATTEMPTS} times); retry when its DDL has finished")

    def _create_text(self) -> str:
        try:
            rows = self._query(f"SHOW CREATE TABLE {self._from}".encode())
        except pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] == ER_NO_SUCH_TABLE:
                raise SourceError(f"{self._spec.name} disappeared before its copy started") from exc
            raise
        text = rows[0][1]
        return comparable_create(text.decode() if isinstance(text, bytes) else str(text))

    def _lock_definition(self) -> bool:
        """Read the table inside the snapshot, which takes its metadata lock until the snapshot
        ends; False when a DDL that rebuilt the table committed after the snapshot opened.
        LIMIT 1, not 0: only a read that reaches the rows checks the table's version."""
        try:
            self._query(f"SELECT 1 FROM {self._from} LIMIT 1".encode())
        except pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] == ER_TABLE_DEF_CHANGED:
                return False
            raise
        return True

    def _use(self, spec: TableSpec) -> None:
        if comparable_create(spec.create_table_sql) != comparable_create(self._spec.create_table_sql):
            log.info("%s changed since the tables were listed; copying its current definition",
                     spec.name)
        self._spec = spec
        self._typed_select = f"SELECT {select_list(spec.columns)} FROM {self._from}"
        if self._typed:
            self._convert = RowConverter(spec.columns)

    def _record_definition(self, position: BinlogPosition) -> None:
        """Start the table's schema history at its snapshot position, with the definition the
        copied rows have (``_open`` holds the table's metadata lock). A table resumed after a
        crash keeps the history its first read started (the binlog since then is replayed)."""
        if self._record_schema is None or self._cp.seq > 0:
            return
        m = self._spec.mapping
        definition = read_table_def(self._conn, m.source_schema, m.source_table)
        if definition is None:
            raise SourceError(f"{self._spec.name} disappeared while its copy started")
        self._record_schema([SchemaVersion(m.source_schema, m.source_table, position,
                                           definition, base=True)])

    def _table_message(self, position: BinlogPosition) -> SnapshotTable:
        m = self._spec.mapping
        return SnapshotTable(m.source_schema, m.source_table, m.target_schema, m.target_table,
                             self._spec.create_database_sql, self._spec.create_table_sql,
                             bool(m.columns), self._sql_mode, position,
                             self._spec.rows_estimate, self._job_rows)

    def _chunk(self, position: BinlogPosition, seq: int, after: bytes | None,
               last_key: bytes | None, rows: list[Any], count: int, restart: bool,
               last: bool) -> SnapshotChunk:
        m = self._spec.mapping
        return SnapshotChunk(
            m.source_schema, m.source_table, m.target_schema, m.target_table,
            [c.name for c in self._spec.columns], bool(m.columns), self._sql_mode, seq,
            after, last_key, rows, count, not self._spec.key, restart, last, position,
            self._typed, *self._load_form(),
        )

    def _load_form(self) -> tuple[bool, list[int]]:
        """(LOAD DATA lines?, positions of hex fields) of this table's chunks."""
        tsv = not self._typed and self._render()[0]
        hexed = tsv and not self._wide
        return tsv, [i for i, c in enumerate(self._spec.columns) if hexed and tsv_hex(c)]

    def _check_stop(self) -> None:
        if self._stopped():
            raise Stopped("stop requested during the full copy")

    def _range(self, after: bytes | None, upper: bytes | None) -> bytes:
        """`` WHERE`` text for the filter and the key range (after, upper]."""
        names = tuple(c.name for c in self._spec.key)
        conditions = [self._where.encode()] if self._where else []
        if after is not None:
            literals = split_key(after, len(names))
            conditions.append(b"(" + after_key_condition(names, literals) + b")")
        if upper is not None:
            literals = split_key(upper, len(names))
            conditions.append(b"(" + up_to_key_condition(names, literals) + b")")
        return b" WHERE " + b" AND ".join(conditions) if conditions else b""

    def _query(self, sql: bytes) -> list[tuple[Any, ...]]:
        with self._conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())

    def _fit(self, row_bytes: int) -> int:
        """Rows per chunk: ``chunk_size``, fewer when rows this wide would pass CHUNK_BYTES."""
        return max(1, min(self._chunk_size, CHUNK_BYTES // max(1, row_bytes)))

    def _first_page(self, after: bytes | None) -> int:
        """Rows of the first chunk, from the widest of the next few rows as rendered; rows
        that wide (LOAD DATA lines only) are read as wide rows (``_fetch_wide``)."""
        order = ", ".join(quote_ident(c.name) for c in self._spec.key)
        tsv, row, _ = self._render()
        sql = (f"SELECT LENGTH({row}) FROM {self._from}".encode()
               + self._range(after, None) + f" ORDER BY {order} LIMIT {SAMPLE_ROWS}".encode())
        widest = max((int(r[0] or 0) for r in self._query(sql)), default=0)
        self._wide = tsv and widest >= WIDE_ROW_BYTES
        return self._fit(widest)

    def _fetch_wide(self, after: bytes | None, page: int) -> tuple[bytes | None, list[Any], int]:
        """(the key of the chunk's last row or None when fewer than ``page`` rows remain,
        the pieces, the row count) of the next ``page`` rows after ``after``, in one query:
        each column's bytes, escaped into LOAD DATA lines here."""
        columns = self._spec.columns
        order = ", ".join(quote_ident(c.name) for c in self._spec.key)
        sql = (f"SELECT CAST({key_sql(self._spec.key)} AS BINARY), {tsv_wide_select(columns)} "
               f"FROM {self._from}").encode() + self._range(after, None) \
            + f" ORDER BY {order} LIMIT {page}".encode()
        rows = self._query(sql)
        if not rows:
            return None, [], 0
        upper = rows[-1][0] if len(rows) == page else None
        text = tsv_lines([row[1:] for row in rows], tuple(tsv_raw(c) for c in columns))
        return upper, [text], len(rows)

    def _upper_key(self, after: bytes | None, page: int) -> bytes | None:
        """The key of the chunk's last row, or None when fewer than ``page`` rows remain."""
        order = ", ".join(quote_ident(c.name) for c in self._spec.key)
        head = f"SELECT CAST({key_sql(self._spec.key)} AS BINARY) FROM {self._from}".encode()
        tail = f" ORDER BY {order} LIMIT 1 OFFSET {page - 1}".encode()
        rows = self._query(head + self._range(after, None) + tail)
        return rows[0][0] if rows else None

    def _fetch_typed(self, after: bytes | None, upper: bytes | None) -> tuple[list[Any], int]:
        """The typed rows of (after, upper] in key order."""
        assert self._convert is not None
        order = ", ".join(quote_ident(c.name) for c in self._spec.key)
        rows = self._convert(self._query(self._typed_select.encode() + self._range(after, upper)
                                         + f" ORDER BY {order}".encode()))
        return rows, len(rows)

    def _fetch(self, after: bytes | None, upper: bytes | None) -> tuple[list[Any], int]:
        """The rendered rows of (after, upper]: one pre-joined piece when it fits, else one
        piece per row. Joining on the server spares parsing every row here."""
        if self._typed:
            return self._fetch_typed(after, upper)
        where = self._range(after, upper)
        _, row, separator = self._render()
        joined = (f"SELECT GROUP_CONCAT({row} SEPARATOR {separator}), COUNT(*) "
                  f"FROM {self._from}").encode()
        text, count = self._query(joined + where)[0]
        if count == 0:
            return [], 0
        if text is not None and len(text) < JOINED_LIMIT - 8:
            return [text], int(count)
        # Possibly cut at group_concat_max_len (or a row too large): fetch row by row.
        rows = [r for (r,) in self._query(f"SELECT {row} FROM {self._from}".encode() + where)]
        self._check_rendered(rows)
        return rows, len(rows)

    def _read_keyed(self, position: BinlogPosition) -> None:
        seq, after = self._cp.seq, self._cp.last_key
        with self._conn.cursor() as cur:
            cur.execute("SET SESSION group_concat_max_len = %s", (JOINED_LIMIT,))
        # Typed rows (for a Kafka sink) are bounded by chunk_size only.
        page = self._chunk_size if self._typed else self._first_page(after)
        while True:
            self._check_stop()
            if self._wide:
                upper, pieces, count = self._fetch_wide(after, page)
            else:
                upper = self._upper_key(after, page)
                pieces, count = self._fetch(after, upper)
            if count and not self._typed:
                page = self._fit(sum(len(p) for p in pieces) // count + 1)
            last = upper is None
            seq += 1
            last_key = after if last else upper
            self._send(self._chunk(position, seq, after, last_key, pieces, count, False, last))
            self.rows_read += count
            after = last_key
            if last:
                return

    def _read_keyless(self, position: BinlogPosition) -> None:
        sql = self._typed_select if self._typed else f"SELECT {self._render()[1]} FROM {self._from}"
        if self._where:
            sql += f" WHERE {self._where}"
        seq, restart = self._cp.seq, True
        # Not a context manager: closing an unfinished unbuffered cursor reads the whole rest.
        cur = self._conn.cursor(pymysql.cursors.SSCursor)
        cur.execute(sql)
        while True:
            self._check_stop()
            rows: list[Any] = []
            size, last = 0, False
            while len(rows) < self._chunk_size and size < CHUNK_BYTES:
                fetched = cur.fetchmany(min(KEYLESS_FETCH, self._chunk_size - len(rows)))
                if not fetched:
                    last = True
                    break
                if self._convert is not None:
                    rows += self._convert(fetched)  # typed rows: bounded by chunk_size only
                    continue
                got = [row for (row,) in fetched]
                self._check_rendered(got)
                rows += got
                size += sum(len(row) for row in got)
            seq += 1
            self._send(self._chunk(position, seq, None, None, rows, len(rows), restart, last))
            self.rows_read += len(rows)
            restart = False
            if last:
                cur.close()
                return

    def _check_rendered(self, rows: list[Any]) -> None:
        # CONCAT yields NULL (with a warning) when the row text exceeds max_allowed_packet.
        if any(row is None for row in rows):
            raise SourceError(
                f"a row of {self._spec.name} is too large to copy; raise the source's "
                "max_allowed_packet above twice the largest row")


def comparable_create(create_sql: str) -> str:
    """``SHOW CREATE TABLE`` text without the counter that every insert may move."""
    return _AUTO_INCREMENT.sub("", create_sql)
