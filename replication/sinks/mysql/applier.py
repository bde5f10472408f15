"""Applies one source transaction to a MySQL target as one target transaction, exactly once.

The rows and the checkpoint row go into the same target transaction. Statements are keyed by
the target table's primary key (or first NOT NULL unique key):

- INSERT: one multi-row ``INSERT`` (``executemany`` batches it); while replaying a window the
  target may already contain, ``INSERT ... ON DUPLICATE KEY UPDATE`` instead.
- UPDATE that keeps the key: a multi-row ``INSERT ... ON DUPLICATE KEY UPDATE`` of the full
  after-image. On a consistent target the key exists, so it updates exactly that row; batching
  keeps a 100k-row UPDATE to a few round trips. An UPDATE that changes the key is a plain
  ``UPDATE ... WHERE key`` (replaying: delete the old key, upsert the new row).
- DELETE: ``DELETE ... WHERE key IN (...)`` in batches.
- Tables without a usable key: ``UPDATE``/``DELETE ... WHERE`` every column ``<=>`` its old value
  ``LIMIT 1``, one statement per row and a full scan each on the target (the documented cost).

Never ``REPLACE``: it deletes every row that collides on *any* unique key, rows the source kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pymysql
from pymysql.constants import CLIENT, SERVER_STATUS
from pymysql.converters import escape_float, escape_string

from replication.errors import TargetError
from replication.mysql import ConnFactory, quote_ident, quote_table
from replication.sinks.mysql.fence import UNFENCED, OwnerFence
from replication.sinks.mysql.keys import TableKey, TableKeys
from replication.wire.changes import DDL, DELETE, INSERT, RowEvent, Transaction

log = logging.getLogger(__name__)

RETRYABLE = {1213, 1205}  # deadlock, lock wait timeout
DDL_ALREADY_DONE = {1007, 1008, 1050, 1051, 1054, 1060, 1061, 1091, 1146, 1176}
MAX_RETRIES = 5
STATEMENT_BYTES = 512 * 1024  # one multi-row statement: far under any max_allowed_packet
ROUND_TRIP_BYTES = 1024 * 1024

__all__ = ["MySQLApplier", "TableKey", "TableKeys"]

# A source transaction and the tables it writes idempotently (the full copy's window).
Applied = tuple[Transaction, frozenset[tuple[str, str]]]


def _named(items: Sequence[Applied]) -> str:
    """The source transactions of one target transaction, for messages."""
    if len(items) == 1:
        return f"source transaction {items[0][0].ident}"
    return (f"{len(items)} source transactions {items[0][0].ident} to {items[-1][0].ident} "
            "(one target transaction)")


class MySQLApplier:
    """Runs transactions on one target connection, with the checkpoint row in each."""

    def __init__(self, conn_factory: ConnFactory, keys: TableKeys, checkpoint_sql: str,
                 fence: OwnerFence = UNFENCED) -> None:
        self._factory = conn_factory
        self._keys = keys
        self._checkpoint_sql = checkpoint_sql
        self.fence = fence
        self._conn: pymysql.connections.Connection | None = None
        self._lock = threading.Lock()
        # How values are written, from the first connection (sql_mode is set on connect).
        self._escape: Callable[[Any], str] | None = None
        self._multi = False

    def connection(self) -> pymysql.connections.Connection:
        with self._lock:  # a worker's builder thread may ask for the dialect meanwhile
            if self._conn is None:
                conn = self._factory()
                with conn.cursor() as cur:
                    # Row images carry TIMESTAMPs in UTC; foreign keys are the source's business.
                    cur.execute("SET time_zone='+00:00', foreign_key_checks=0, sql_mode=''")
                self._conn = conn
                if self._escape is None:
                    self._escape = _literal(conn)
                    self._multi = bool(conn.client_flag & CLIENT.MULTI_STATEMENTS)
            return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except Exception:  # noqa: BLE001 - closing a broken connection must not mask the cause
                    pass
                self._conn = None

    def apply(self, tx: Transaction, checkpoint_args: tuple,
              idempotent: frozenset[tuple[str, str]] = frozenset()) -> None:
        """Apply ``tx`` and its checkpoint row in one target transaction, retrying deadlocks."""
        self.apply_batch([(tx, idempotent)], checkpoint_args)

    def apply_batch(self, items: Sequence[Applied], checkpoint_args: tuple) -> None:
        """Apply source transactions in order, and the checkpoint row that lists them, as one
        target transaction (each ``(tx, tables to write idempotently)``)."""
        self._commit_rows(items, [(self._checkpoint_sql, checkpoint_args)])

    def render_batch(self, items: Sequence[Applied], checkpoint_args: tuple) -> list[str]:
        """What ``apply_batch`` sends, so a worker can build it while the target is busy with
        the previous batch; send it with ``execute``."""
        return self._render(items, [(self._checkpoint_sql, checkpoint_args)])

    def execute(self, round_trips: list[str], items: Sequence[Applied]) -> None:
        """Send a rendered target transaction, retrying deadlocks."""
        self._run(lambda: round_trips, items)

    def _commit_rows(self, items: Sequence[Applied], checkpoint: Sequence[tuple[str, tuple]]) -> None:
        """The row changes of ``items`` and the checkpoint statements as one target
        transaction, usually in a single round trip (see ``_Batch``)."""
        self._run(lambda: self._render(items, checkpoint), items)

    def _render(self, items: Sequence[Applied], checkpoint: Sequence[tuple[str, tuple]]) -> list[str]:
        if self._escape is None:
            self.connection()
        assert self._escape is not None
        batch = _Batch(self._escape, self._multi)
        for sql, args in self.fence.statements():  # first: it locks the owner row
            batch.add_statement(sql, args)
        for tx, idempotent in items:
            for change in tx.changes:
                if isinstance(change, RowEvent):
                    self._rows(batch, change, (change.schema, change.table) in idempotent)
        for sql, args in checkpoint:
            batch.add_statement(sql, args)
        batch.add("COMMIT")
        return batch.round_trips()

    def _run(self, render: Callable[[], list[str]], items: Sequence[Applied]) -> None:
        """Render and send one target transaction; roll back and retry it on deadlocks and
        lock wait timeouts, stop on a fence failure, raise ``TargetError`` otherwise."""
        for attempt in range(1, MAX_RETRIES + 1):
            conn = self.connection()
            try:
                with conn.cursor() as cur:
                    for sql in render():
                        cur.execute(sql)
                        while cur.nextset():
                            pass
                return
            except pymysql.err.MySQLError as exc:
                code = exc.args[0] if exc.args else 0
                self._rollback()
                fenced = self.fence.fenced_out(exc, self._conn)
                if fenced is not None:
                    raise fenced from exc
                if code in RETRYABLE and attempt < MAX_RETRIES:
                    log.warning("retrying %s after error %s (attempt %d)", _named(items), code, attempt)
                    time.sleep(0.05 * attempt)
                    continue
                raise TargetError(f"applying {_named(items)} failed: "
                                  f"{exc.args[-1] if exc.args else exc}") from exc
        raise AssertionError("unreachable")

    def commit_statements(self, tx: Transaction, statements: Sequence[tuple[str, tuple]]) -> None:
        """``statements`` alone, on behalf of ``tx``, as one (fenced) target transaction."""
        self._commit_rows([(Transaction(tx.gtid, tx.file, tx.pos, tx.timestamp), frozenset())],
                          statements)

    def apply_ddl(self, tx: Transaction, checkpoint: Sequence[tuple[str, tuple]], may_have_run: bool,
                  idempotent: frozenset[tuple[str, str]] = frozenset()) -> None:
        """Run the DDL (it commits by itself), then the transaction's rows (MariaDB logs
        ``CREATE TABLE ... SELECT`` as the CREATE and its rows in one GTID group) with the
        checkpoint statements in one transaction: a crash in between replays the DDL under its
        marker and then applies the rows once."""
        rows_seen = False
        for change in tx.changes:
            if not isinstance(change, DDL):
                rows_seen = True
                continue
            if rows_seen:  # a DDL would commit those rows without their checkpoint row
                raise TargetError(f"source transaction {tx.ident} has rows before a DDL, which "
                                  "cannot be applied exactly once")
            with self.fence.guard(self._factory):
                self._run_ddl(tx, change, may_have_run)
        self._keys.clear()
        self._commit_rows([(tx, idempotent)], checkpoint)

    def _run_ddl(self, tx: Transaction, change: DDL, may_have_run: bool) -> None:
        try:
            with self.connection().cursor() as cur:
                cur.execute(change.statement)
        except pymysql.err.MySQLError as exc:
            code = exc.args[0] if exc.args else 0
            if may_have_run and code in DDL_ALREADY_DONE:
                log.warning("DDL of %s had already run before a restart (error %s)", tx.ident, code)
                return
            raise TargetError(f"DDL of source transaction {tx.ident} failed on the target: "
                              f"{exc.args[-1] if exc.args else exc}: {change.statement[:200]!r}") from exc

    def _rollback(self) -> None:
        try:
            if self._conn is not None:
                self._conn.rollback()
        except pymysql.err.MySQLError:
            self.close()

    # -- statements ---------------------------------------------------------------------
    def _rows(self, batch: _Batch, event: RowEvent, idempotent: bool) -> None:
        table = quote_table(event.schema, event.table)
        key = self._keys.get(event.schema, event.table).key
        if key and not set(key) <= set(event.columns):
            key = ()  # column_map_from left the key out: match on what we have
        if event.kind == INSERT:
            batch.add_rows(*_insert_parts(table, event.columns, upsert=idempotent), event.rows)
        elif event.kind == DELETE:
            self._delete(batch, table, event, key)
        else:
            self._update(batch, table, event, key, idempotent)

    def _delete(self, batch: _Batch, table: str, event: RowEvent, key: tuple[str, ...]) -> None:
        if not key:
            sql = f"DELETE FROM {table} WHERE {_all_columns_match(event.columns)} LIMIT 1"
            for row in event.rows:
                batch.add_statement(sql, row)
            return
        picks = [event.columns.index(k) for k in key]
        cols = ",".join(quote_ident(k) for k in key)
        head = f"DELETE FROM {table} WHERE ({cols}) IN ("
        batch.add_rows(head, ")", [[r[i] for i in picks] for r in event.rows])

    def _update(self, batch: _Batch, table: str, event: RowEvent, key: tuple[str, ...],
                idempotent: bool) -> None:
        columns = event.columns
        if not key:
            sets = ", ".join(f"{quote_ident(c)}=%s" for c in columns)
            sql = f"UPDATE {table} SET {sets} WHERE {_all_columns_match(columns)} LIMIT 1"
            for before, after in event.rows:
                batch.add_statement(sql, [*after, *before])
            return
        picks = [columns.index(k) for k in key]
        upsert = _insert_parts(table, columns, upsert=True)
        if len(picks) == 1:  # the common case, without a generator per row
            pick = picks[0]
            if all(before[pick] == after[pick] for before, after in event.rows):
                batch.add_rows(*upsert, [after for _, after in event.rows])
                return
        same: list[Any] = []
        for before, after in event.rows:
            if all(before[i] == after[i] for i in picks):
                same.append(after)
                continue
            if same:  # keep row order: flush the batched same-key updates first
                batch.add_rows(*upsert, same)
                same = []
            self._key_change(batch, table, columns, key, picks, before, after, idempotent)
        if same:
            batch.add_rows(*upsert, same)

    def _key_change(self, batch: _Batch, table: str, columns: list[str], key: tuple[str, ...],
                    picks: list[int], before: list, after: list, idempotent: bool) -> None:
        where = " AND ".join(f"{quote_ident(k)}=%s" for k in key)
        old_key = [before[i] for i in picks]
        if idempotent:
            batch.add_statement(f"DELETE FROM {table} WHERE {where}", old_key)
            batch.add_rows(*_insert_parts(table, columns, upsert=True), [after])
            return
        sets = ", ".join(f"{quote_ident(c)}=%s" for c in columns)
        batch.add_statement(f"UPDATE {table} SET {sets} WHERE {where}", [*after, *old_key])


class _Batch:
    """The statements of one target transaction as SQL text, ``BEGIN; ...; COMMIT`` in as
    few round trips as the connection allows: one per ``ROUND_TRIP_BYTES`` with the
    MULTI_STATEMENTS client flag, else one per statement. The server stops at the first
    failing statement, so an error leaves an open transaction the sender rolls back.

    Rows added with the same statement head and suffix right after each other (the same kind
    of change to the same table, from one source transaction or consecutive ones) become one
    multi-row statement: in the same order, so with the same effect."""

    def __init__(self, escape: Callable[[Any], str], multi: bool) -> None:
        self._escape = escape
        self._multi = multi
        self._round_trips: list[str] = []
        self._parts: list[str] = ["BEGIN"]
        self._size = 5
        self._open: tuple[str, str] | None = None  # head and suffix of the rows in ``_tuples``
        self._tuples: list[str] = []
        self._tuples_size = 0

    def add(self, sql: str) -> None:
        self._close_rows()
        self._append(sql)

    def add_statement(self, sql: str, args: Sequence[Any]) -> None:
        self.add(sql % tuple(map(self._escape, args)))

    def add_rows(self, head: str, suffix: str, rows: Sequence[Sequence[Any]]) -> None:
        """``head (row),(row),... suffix``: one statement per ``STATEMENT_BYTES`` of rows."""
        if self._open != (head, suffix):
            self._close_rows()
            self._open = (head, suffix)
        escape = self._escape
        for row in rows:
            text = "(" + ",".join(map(escape, row)) + ")"
            self._tuples.append(text)
            self._tuples_size += len(text) + 1
            if self._tuples_size >= STATEMENT_BYTES:
                self._emit_rows()

    def round_trips(self) -> list[str]:
        """Everything added, as the texts to send one after the other."""
        self._close_rows()
        self._send()
        return self._round_trips

    def _close_rows(self) -> None:
        if self._open is not None:
            self._emit_rows()
            self._open = None

    def _emit_rows(self) -> None:
        tuples, self._tuples, self._tuples_size = self._tuples, [], 0
        if tuples and self._open is not None:
            head, suffix = self._open
            self._append(head + ",".join(tuples) + suffix)

    def _append(self, sql: str) -> None:
        self._parts.append(sql)
        self._size += len(sql) + 1
        if self._size >= ROUND_TRIP_BYTES:
            self._send()

    def _send(self) -> None:
        """Close a round trip with the complete statements (rows still being collected stay)."""
        parts, self._parts, self._size = self._parts, [], 0
        if parts:
            self._round_trips.extend([";".join(parts)] if self._multi else parts)


def _literal(conn: pymysql.connections.Connection) -> Callable[[Any], str]:
    """``conn.escape`` with the commonest types first and inlined: it is the dest's hottest
    call, and pymysql reaches them only after several checks (same text for every value)."""
    escape = conn.escape
    # The session's sql_mode is '' (set on connect), so backslash escapes apply; should it
    # ever say otherwise, strings take pymysql's own path, which honours it.
    plain_strings = not conn.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES
    not_finite = ("inf", "-inf", "nan")

    def literal(value: Any) -> str:
        kind = type(value)
        if kind is int:
            return str(value)
        if kind is str and plain_strings:
            return "'" + escape_string(value) + "'"
        if kind is float:
            text = repr(value)  # what escape_float writes, which also rejects inf and nan
            return text if "e" in text else escape_float(value) if text in not_finite else text + "e0"
        if value is None:
            return "NULL"
        return escape(value)
    return literal


def _insert_parts(table: str, columns: Sequence[str], upsert: bool) -> tuple[str, str]:
    """A multi-row INSERT's text before and after its row tuples."""
    cols = ",".join(quote_ident(c) for c in columns)
    suffix = ""
    if upsert:
        suffix = " ON DUPLICATE KEY UPDATE " + ",".join(
            f"{quote_ident(c)}=VALUES({quote_ident(c)})" for c in columns)
    return f"INSERT INTO {table} ({cols}) VALUES ", suffix


def _all_columns_match(columns: Sequence[str]) -> str:
    return " AND ".join(f"{quote_ident(c)} <=> %s" for c in columns)
