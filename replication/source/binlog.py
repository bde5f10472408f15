"""The one adapter over python-mysql-replication: binlog events in, ``Transaction`` objects out.

Everything library-specific stays here. The reader checks the source can be replicated from
correctly before it streams, starts from an executed GTID set (MySQL) or a GTID position
(MariaDB, which the library can only start from by GTID, so file/pos is translated with
``BINLOG_GTID_POS``), groups events into whole transactions and yields ``None`` on idle
heartbeats so the caller can flush batches and check its stop signal.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.constants import FIELD_TYPE
from pymysqlreplication.event import (
    GtidEvent,
    HeartbeatLogEvent,
    MariadbGtidEvent,
    NotImplementedEvent,
    QueryEvent,
    RotateEvent,
    XidEvent,
)
from pymysqlreplication.row_event import (
    DeleteRowsEvent,
    PartialUpdateRowsEvent,
    UpdateRowsEvent,
    WriteRowsEvent,
)

from replication.config import MySQLConnectionConfig, SrcTaskConfig
from replication.errors import SourceError
from replication.gtid import GtidSet
from replication.mysql import tls_options
from replication.position import BinlogPosition
from replication.source.requirements import binlog_status
from replication.source.rows import Plan, decode_rows, plan_for
from replication.source.tracker import SchemaTracker
from replication.stop import StopSignal
from replication.wire.changes import DDL, DELETE, INSERT, UPDATE, RowEvent, Transaction

log = logging.getLogger(__name__)

_COMPRESSED_EVENTS = {40, 165, 166, 167, 168, 169, 170, 171}  # MySQL payload, MariaDB *_COMPRESSED
_ROW_KINDS = {WriteRowsEvent: INSERT, UpdateRowsEvent: UPDATE, DeleteRowsEvent: DELETE,
              PartialUpdateRowsEvent: UPDATE}
_PLAIN_ROWS_EVENTS = {23, 24, 25, 30, 31, 32}  # WRITE/UPDATE/DELETE_ROWS v1 and v2, not partial JSON
_PARTIAL_UPDATE_ROWS = 39  # MySQL 8.0 binlog_row_value_options=PARTIAL_JSON
_MARIADB_STANDALONE = 0x01
_MARIADB_GROUP_COMMIT_ID = 0x02
ER_MASTER_FATAL_READING_BINLOG = 1236

TableScope = Callable[[str, str], bool]


def replica_server_id(job_id: str) -> int:
    """A stable server id per job, far from the small ids people give real servers."""
    digest = int.from_bytes(hashlib.sha1(job_id.encode()).digest()[:4], "big")
    return 1_000_000_000 + digest % 2_000_000_000


def resolve_start(conn: pymysql.connections.Connection, src: SrcTaskConfig,
                  mariadb: bool) -> BinlogPosition:
    """Where an incremental-only job starts: its ``gtid``, ``binlog_file``/``pos`` or now."""
    if src.gtid:
        return BinlogPosition(gtid_set=GtidSet.parse(src.gtid, mariadb).format())
    if src.binlog_file:
        if not mariadb:
            return BinlogPosition(src.binlog_file, src.binlog_pos or 4)
        with conn.cursor() as cur:
            cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (src.binlog_file, src.binlog_pos or 4))
            row = cur.fetchone()
        if row is None or row[0] is None:
            raise SourceError(f"binlog position {src.binlog_file}:{src.binlog_pos} is not in the "
                              "source's binlog (purged, or not a transaction boundary)")
        pos = BinlogPosition(src.binlog_file, src.binlog_pos, row[0])
        return BinlogPosition(pos.file, pos.pos, GtidSet.parse(row[0], True).format())
    return current_position(conn, mariadb)


def current_position(conn: pymysql.connections.Connection, mariadb: bool) -> BinlogPosition:
    """The source's position now (``auto_gtid`` and the snapshot's consistent point)."""
    status = binlog_status(conn, mariadb)
    if status is None:
        raise SourceError("the source has the binary log off (its binlog status is empty)")
    if mariadb:
        with conn.cursor() as cur:
            cur.execute("SELECT @@GLOBAL.gtid_binlog_pos")
            row = cur.fetchone()
            gtid = GtidSet.parse((row[0] if row else "") or "", True).format()
    else:
        gtid = GtidSet.parse(_text(status[4] or ""), False).format() if len(status) > 4 else ""
    return BinlogPosition(_text(status[0]), int(status[1]), gtid)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _set_text(members: Any, column: Any) -> str:
    """A SET as the server writes it: members in definition order, comma-separated."""
    return ",".join(m for m in getattr(column, "set_values", None) or sorted(members) if m in members)


# The library's values a target would not store back as they were: JSON parsed into objects,
# SET as a Python set, BIT as text of '0'/'1' characters (the fast decoder gives them right).
_LIBRARY_FIXES: dict[int, Any] = {
    FIELD_TYPE.JSON: lambda v, _column: _json_text(v),
    FIELD_TYPE.SET: _set_text,
    FIELD_TYPE.BIT: lambda v, _column: int(v, 2),
}


def _json_text(value: Any) -> Any:
    """The library parses JSON columns into Python objects; the target wants JSON text."""
    def plain(v: Any) -> Any:
        if isinstance(v, bytes):
            return v.decode("utf-8", "replace")
        if isinstance(v, dict):
            return {plain(k): plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v
    return None if value is None else json.dumps(plain(value), ensure_ascii=False,
                                                 default=_json_scalar)


def _json_scalar(value: Any) -> Any:
    """The library's opaque JSON scalars (DECIMAL, DATE, TIME, DATETIME), which JSON cannot
    serialize: as their text. Only tables the fast decoder cannot plan (a JSON column beside
    a GEOMETRY or pre-5.6 temporal column) come this way; ``json_binary`` keeps DECIMAL a
    number."""
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


class BinlogReader:
    """Streams whole source transactions from a start position until stopped."""

    def __init__(self, cfg: MySQLConnectionConfig, server_id: int, start: BinlogPosition,
                 mariadb: bool, stop: StopSignal, in_scope: TableScope | None = None,
                 heartbeat: float = 0.5, tracker: SchemaTracker | None = None) -> None:
        self._cfg = cfg
        # Without one (tests of decoding only), rows are decoded with the table map as is.
        self.tracker = tracker
        self._server_id = server_id
        self._start = start
        self._mariadb = mariadb
        self._stop = stop
        self._in_scope = in_scope or (lambda schema, table: True)
        self._heartbeat = heartbeat
        # Transactions already yielded: after the library reconnects on its own it streams
        # again from the start position, and MariaDB starts from the gap-free prefix.
        self.seen = GtidSet.parse(start.gtid_set, mariadb) if start.gtid_set else GtidSet(mariadb)
        self.file = start.file
        self.pos = start.pos
        self._stream: BinLogStreamReader | None = None
        self._plans: dict[int, tuple[Any, Plan | None]] = {}

    def _open(self) -> BinLogStreamReader:
        settings = {"host": self._cfg.mysql_host, "port": int(self._cfg.mysql_port),
                    "user": self._cfg.mysql_user, "password": self._cfg.mysql_password,
                    "charset": "utf8mb4", "read_timeout": 30, "connect_timeout": 5,
                    **tls_options(self._cfg)}
        kwargs: dict[str, Any] = {}
        if self._mariadb:
            kwargs.update(is_mariadb=True, auto_position=GtidSet.parse(
                self._start.gtid_set, True).position() if self._start.gtid_set else "")
        elif self._start.gtid_set:
            kwargs["auto_position"] = self._start.gtid_set
        else:
            kwargs.update(log_file=self._start.file, log_pos=self._start.pos, resume_stream=True)
        return BinLogStreamReader(
            connection_settings=settings, server_id=self._server_id, blocking=True,
            slave_heartbeat=self._heartbeat, filter_non_implemented_events=False,
            # A table id names one table definition (the server assigns a new id when DDL
            # reopens the table), so its table map need not be parsed again for every rows
            # event: about a fifth of the src's time.
            freeze_schema=True,
            only_events=[GtidEvent, MariadbGtidEvent, QueryEvent, XidEvent, RotateEvent,
                         HeartbeatLogEvent, NotImplementedEvent, WriteRowsEvent,
                         UpdateRowsEvent, DeleteRowsEvent, PartialUpdateRowsEvent],
            enable_logging=False, **kwargs)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _events(self) -> Iterator[Any]:
        self._stream = self._open()
        try:
            yield from self._stream
        except pymysql.err.MySQLError as exc:
            code = exc.args[0] if exc.args else 0
            if code == ER_MASTER_FATAL_READING_BINLOG:
                raise SourceError(
                    f"the source cannot send its binlog from {self._start} (ERROR 1236: "
                    f"{exc.args[-1]}); the position was probably purged. Replication stopped "
                    "rather than skip ahead: restart the job with a full copy") from exc
            raise
        finally:
            self.close()

    def transactions(self) -> Iterator[Transaction | None]:
        """Whole transactions in binlog order; ``None`` on heartbeats (time to check stop)."""
        builder = _TxBuilder(self)
        for event in self._events():
            if self._stop.is_set():
                return
            tx = builder.feed(event)
            if tx is _IDLE:
                yield None
            elif tx is not None:
                if tx.gtid and tx.gtid in self.seen:
                    continue
                if tx.gtid:
                    self.seen.add(tx.gtid)
                yield tx

    def where(self, event: Any) -> str:
        """The event's place for messages: binlog file, end position, and transaction."""
        return f"{self.file}:{event.packet.log_pos}"

    def row_event(self, event: Any) -> RowEvent | None:
        """Decode a rows event of an in-scope table with the columns in force when it was
        written: the table map's, checked against (and completed from) the tracked schema."""
        schema, table = event.schema, event.table
        if not self._in_scope(schema, table):
            return None
        if event.event_type == _PARTIAL_UPDATE_ROWS:
            raise SourceError(
                f"the source wrote a partial JSON update of {schema}.{table} at {self.where(event)}"
                " (binlog_row_value_options=PARTIAL_JSON), which is not applied: set "
                "binlog_row_value_options='' on the source and re-create the job with a full copy")
        if self.tracker is not None:
            self.tracker.decorate(event.table_id, schema, table, event.columns, self.where(event))
        columns = [c.name for c in event.columns]
        kind = _ROW_KINDS[type(event)]
        fast = self._fast_rows(event, kind)
        if fast is not None:
            return RowEvent(schema, table, kind, columns, fast)
        # The library fills each image dict in column order, so its values are the row as a
        # list; looking every column up by name again cost as much as a third of the decode.
        if len(set(columns)) != len(columns):
            raise SourceError(f"{schema}.{table}: its table map repeats a column name")
        if kind == UPDATE:
            rows: list[Any] = [[list(r["before_values"].values()), list(r["after_values"].values())]
                               for r in event.rows]
            images = [img for pair in rows for img in pair]
        else:
            rows = [list(r["values"].values()) for r in event.rows]
            images = rows
        fixes = [(i, c, _LIBRARY_FIXES[c.type]) for i, c in enumerate(event.columns)
                 if c.type in _LIBRARY_FIXES]
        for image in images if fixes else ():
            for i, column, fix in fixes:
                if image[i] is not None:
                    image[i] = fix(image[i], column)
        return RowEvent(schema, table, kind, columns, rows)


    def _fast_rows(self, event: Any, kind: str) -> list[Any] | None:
        """The event's rows through ``rows`` when its table and images allow, else None
        (nothing read: the library decodes them)."""
        if event.event_type not in _PLAIN_ROWS_EVENTS:
            return None
        cached = self._plans.get(event.table_id)
        if cached is None or cached[0] is not event.columns:
            # Keyed by the table map's column list itself: a new map (after DDL) is a new list.
            cached = self._plans[event.table_id] = (event.columns, plan_for(event.columns))
        plan = cached[1]
        if plan is None or len(plan) != event.number_of_columns:
            return None
        full = _full_bitmap(len(plan))
        if event.columns_present_bitmap != full or (
                kind == UPDATE and event.columns_present_bitmap2 != full):
            return None  # a partial row image: the library knows which columns it holds
        body = event.packet.read(event.event_size - event.packet.read_bytes)
        return decode_rows(body, plan, 2 if kind == UPDATE else 1)


def _full_bitmap(columns: int) -> bytes:
    return ((1 << columns) - 1).to_bytes((columns + 7) // 8, "little")


class _Idle:
    pass


_IDLE: Any = _Idle()


class _TxBuilder:
    """Assembles events into transactions: GTID/BEGIN opens one, XID/COMMIT or a DDL closes it."""

    def __init__(self, reader: BinlogReader) -> None:
        self._reader = reader
        self._tx: Transaction | None = None
        self._implicit_end = False  # DDL without BEGIN ends at its own query event

    def _open(self, event: Any, gtid: str = "") -> Transaction:
        self._tx = Transaction(gtid, self._reader.file, 0, int(event.timestamp))
        return self._tx

    def _close(self, event: Any) -> Transaction | None:
        tx, self._tx = self._tx, None
        if tx is None:
            return None
        tx.file = self._reader.file
        tx.pos = int(event.packet.log_pos)
        tx.row_count = sum(len(c.rows) for c in tx.changes if isinstance(c, RowEvent))
        self._reader.pos = tx.pos
        return tx

    def feed(self, event: Any) -> Any:
        if isinstance(event, HeartbeatLogEvent):
            return _IDLE
        if isinstance(event, RotateEvent):
            self._reader.file = event.next_binlog
            return None
        if isinstance(event, NotImplementedEvent) and event.event_type in _COMPRESSED_EVENTS:
            raise SourceError(
                f"the source wrote a compressed binlog event at {self._reader.file}:"
                f"{event.packet.log_pos}, which is not decoded: set log_bin_compress=OFF "
                "(MariaDB) or binlog_transaction_compression=OFF (MySQL) and re-create the job "
                "with a full copy")
        if isinstance(event, MariadbGtidEvent):
            tx = self._open(event, event.gtid)
            self._implicit_end = bool(event.flags & _MARIADB_STANDALONE)
            if event.flags & _MARIADB_GROUP_COMMIT_ID:
                tx.last_committed = event.packet.read_uint64()
            return None
        if isinstance(event, GtidEvent):
            tx = self._open(event, event.gtid)
            tx.last_committed = int(getattr(event, "last_committed", 0) or 0)
            tx.sequence_number = int(getattr(event, "sequence_number", 0) or 0)
            self._implicit_end = True  # until a BEGIN says it is a multi-statement transaction
            return None
        if isinstance(event, XidEvent):
            return self._close(event)
        if isinstance(event, QueryEvent):
            return self._query(event)
        if type(event) in _ROW_KINDS:
            return self._rows(event)
        return None

    def _query(self, event: Any) -> Transaction | None:
        query = event.query.strip() if isinstance(event.query, str) else event.query.decode()
        word = query.split(None, 1)[0].upper() if query else ""
        if word == "BEGIN" or word.startswith("XA"):
            if self._tx is None:
                self._open(event)
            self._implicit_end = False
            return None
        if word == "COMMIT":
            return self._close(event)
        if self._tx is None:
            self._open(event)
            self._implicit_end = True
        schema = event.schema.decode() if isinstance(event.schema, bytes) else event.schema
        assert self._tx is not None
        if not self._track(schema or "", query, event):
            self._tx.changes.append(DDL(schema or "", query))
        return self._close(event) if self._implicit_end else None

    def _track(self, schema: str, query: str, event: Any) -> bool:
        """Apply the DDL to the schema history before anything after it is decoded or sent.
        True when the full copy read every table it changes after it: the target tables were
        created with it already, so it is not replayed."""
        reader, tx = self._reader, self._tx
        if reader.tracker is None or tx is None:
            return False
        executed = reader.seen.copy()
        if tx.gtid:
            executed.add(tx.gtid)
        position = BinlogPosition(reader.file, int(event.packet.log_pos), executed.format())
        covered = reader.tracker.apply_ddl(schema, query, tx.gtid, position)
        if covered:
            log.info("DDL of %s is part of the full copy's definitions already: not replayed",
                     tx.gtid or position)
        return covered

    def _in_copy(self, event: Any, gtid: str) -> bool:
        """Rows the full copy read already: they are not decoded (they may predate a DDL that
        the copied definition includes) and the dest would drop them anyway."""
        tracker = self._reader.tracker
        return tracker is not None and tracker.copied_after(
            event.schema, event.table, gtid, self._reader.file, int(event.packet.log_pos))

    def _rows(self, event: Any) -> None:
        if self._tx is None:  # rows outside a GTID/BEGIN: should not happen in ROW format
            self._open(event)
        assert self._tx is not None
        if self._in_copy(event, self._tx.gtid):
            return
        row_event = self._reader.row_event(event)
        if row_event is None or not row_event.rows:
            return
        assert self._tx is not None
        last = self._tx.changes[-1] if self._tx.changes else None
        if (isinstance(last, RowEvent) and last.kind == row_event.kind and last.table == row_event.table
                and last.schema == row_event.schema and last.columns == row_event.columns):
            last.rows.extend(row_event.rows)
        else:
            self._tx.changes.append(row_event)
