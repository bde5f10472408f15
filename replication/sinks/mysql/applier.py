"""Applies source transactions to a MySQL target, a batch of them per target transaction,
exactly once.

The rows and the checkpoint row go into the same target transaction (``statements`` assembles
its text). Statements are keyed by the target table's primary key (or first NOT NULL unique
key):

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
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.constants import CLIENT

from replication.errors import TargetError
from replication.mysql import ConnFactory, quote_ident, quote_table
from replication.sinks.mysql.fence import UNFENCED, OwnerFence
from replication.sinks.mysql.keys import TableKey, TableKeys
from replication.sinks.mysql.statements import REORDER_ROWS, Rendered, Statements, key_values, literal
from replication.wire.changes import DDL, DELETE, INSERT, UPDATE, RowEvent, Transaction

log = logging.getLogger(__name__)

RETRYABLE = {1213, 1205}  # deadlock, lock wait timeout
DDL_ALREADY_DONE = {1007, 1008, 1050, 1051, 1054, 1060, 1061, 1091, 1146, 1176}
MAX_RETRIES = 5

__all__ = ["MySQLApplier", "TableKey", "TableKeys"]

# A source transaction and the tables it writes idempotently (the full copy's window).
Applied = tuple[Transaction, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class _Shape:
    """How rows of one table with one column list are matched: the key's positions (empty:
    no usable key in these columns) and every unique key's positions (None: some unique key is
    not among the columns, so rows of these changes never move ahead of others)."""

    table_key: TableKey
    key: tuple[str, ...]
    picks: tuple[int, ...]
    uniques: tuple[tuple[int, ...], ...] | None


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
        self._shapes: dict[tuple[str, str, tuple[str, ...]], _Shape] = {}

    def connection(self) -> pymysql.connections.Connection:
        with self._lock:  # a worker's builder thread may ask for the dialect meanwhile
            if self._conn is None:
                conn = self._factory()
                with conn.cursor() as cur:
                    # Row images carry TIMESTAMPs in UTC; foreign keys are the source's business.
                    cur.execute("SET time_zone='+00:00', foreign_key_checks=0, sql_mode=''")
                self._conn = conn
                if self._escape is None:
                    self._escape = literal(conn)
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

    def render_batch(self, items: Sequence[Applied], checkpoint_args: tuple) -> Rendered:
        """What ``apply_batch`` sends, so a worker can build it while the target is busy with
        the previous batch; send it with ``execute``."""
        return self._render(items, [(self._checkpoint_sql, checkpoint_args)], reorder=True)

    def execute(self, rendered: Rendered, items: Sequence[Applied], checkpoint_args: tuple) -> None:
        """Send a rendered batch, retrying deadlocks (and in source order if it had moved rows
        ahead and failed)."""
        checkpoint = [(self._checkpoint_sql, checkpoint_args)]
        self._run(lambda strict: self._render(items, checkpoint, False) if strict else rendered, items)

    def _commit_rows(self, items: Sequence[Applied], checkpoint: Sequence[tuple[str, tuple]]) -> None:
        """The row changes of ``items`` and the checkpoint statements as one target
        transaction, usually in a single round trip (see ``statements``)."""
        self._run(lambda strict: self._render(items, checkpoint, not strict), items)

    def _render(self, items: Sequence[Applied], checkpoint: Sequence[tuple[str, tuple]],
                reorder: bool) -> Rendered:
        if self._escape is None:
            self.connection()
        assert self._escape is not None
        batch = Statements(self._escape, self._multi, reorder)
        for sql, args in self.fence.statements():  # first: it locks the owner row
            batch.add_statement(sql, args)
        for tx, idempotent in items:
            for change in tx.changes:
                if isinstance(change, RowEvent):
                    self._rows(batch, change, (change.schema, change.table) in idempotent)
        for sql, args in checkpoint:
            batch.add_statement(sql, args)
        batch.add("COMMIT")
        return batch.render()

    def _run(self, render: Callable[[bool], Rendered], items: Sequence[Applied]) -> None:
        """Render (``render(strict)``) and send one target transaction; roll back and retry
        it on deadlocks and lock wait timeouts, once more in source order if rows had moved
        ahead, stop on a fence failure, raise ``TargetError`` otherwise."""
        strict = False
        for attempt in range(1, MAX_RETRIES + 1):
            conn = self.connection()
            try:
                rendered = render(strict)
                with conn.cursor() as cur:
                    for sql in rendered.round_trips:
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
                if not strict and attempt < MAX_RETRIES and rendered.reordered:
                    log.warning("applying %s again in source order after error %s", _named(items), code)
                    strict = True
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
    def _shape(self, event: RowEvent) -> _Shape:
        table_key = self._keys.get(event.schema, event.table)
        cache_key = (event.schema, event.table, tuple(event.columns))
        found = self._shapes.get(cache_key)
        if found is None or found.table_key is not table_key:  # new, or the keys were re-read
            index = {c: i for i, c in enumerate(event.columns)}
            # column_map_from may leave the key out: then match on what we have.
            key = table_key.key if set(table_key.key) <= index.keys() else ()
            uniques = (tuple(tuple(index[c] for c in u) for u in table_key.uniques)
                       if all(set(u) <= index.keys() for u in table_key.uniques) else None)
            found = self._shapes[cache_key] = _Shape(table_key, key, tuple(index[k] for k in key), uniques)
        return found

    def _rows(self, batch: Statements, event: RowEvent, idempotent: bool) -> None:
        table = quote_table(event.schema, event.table)
        shape = self._shape(event)
        keys = None
        if shape.key and shape.uniques is not None and len(event.rows) <= REORDER_ROWS:
            images = ([img for pair in event.rows for img in pair] if event.kind == UPDATE
                      else event.rows)
            keys = key_values(table, shape.uniques, images)
        if event.kind == INSERT:
            batch.add_rows(*_insert_parts(table, event.columns, upsert=idempotent), event.rows, keys)
        elif event.kind == DELETE:
            self._delete(batch, table, event, shape, keys)
        else:
            self._update(batch, table, event, shape, idempotent, keys)

    def _delete(self, batch: Statements, table: str, event: RowEvent, shape: _Shape,
                keys: set[tuple] | None) -> None:
        if not shape.key:
            sql = f"DELETE FROM {table} WHERE {_all_columns_match(event.columns)} LIMIT 1"
            for row in event.rows:
                batch.add_statement(sql, row)
            return
        cols = ",".join(quote_ident(k) for k in shape.key)
        head = f"DELETE FROM {table} WHERE ({cols}) IN ("
        batch.add_rows(head, ")", [[r[i] for i in shape.picks] for r in event.rows], keys)

    def _update(self, batch: Statements, table: str, event: RowEvent, shape: _Shape,
                idempotent: bool, keys: set[tuple] | None) -> None:
        columns = event.columns
        if not shape.key:
            sets = ", ".join(f"{quote_ident(c)}=%s" for c in columns)
            sql = f"UPDATE {table} SET {sets} WHERE {_all_columns_match(columns)} LIMIT 1"
            for before, after in event.rows:
                batch.add_statement(sql, [*after, *before])
            return
        picks = shape.picks
        upsert = _insert_parts(table, columns, upsert=True)
        if len(picks) == 1:  # the common case, without a generator per row
            pick = picks[0]
            if all(before[pick] == after[pick] for before, after in event.rows):
                batch.add_rows(*upsert, [after for _, after in event.rows], keys)
                return
        same: list[Any] = []
        for before, after in event.rows:
            if all(before[i] == after[i] for i in picks):
                same.append(after)
                continue
            if same:  # keep row order: flush the batched same-key updates first
                batch.add_rows(*upsert, same)
                same = []
            self._key_change(batch, table, columns, shape.key, list(picks), before, after, idempotent)
        if same:
            batch.add_rows(*upsert, same)

    def _key_change(self, batch: Statements, table: str, columns: list[str], key: tuple[str, ...],
                    picks: list[int], before: list, after: list, idempotent: bool) -> None:
        where = " AND ".join(f"{quote_ident(k)}=%s" for k in key)
        old_key = [before[i] for i in picks]
        if idempotent:
            batch.add_statement(f"DELETE FROM {table} WHERE {where}", old_key)
            batch.add_rows(*_insert_parts(table, columns, upsert=True), [after])
            return
        sets = ", ".join(f"{quote_ident(c)}=%s" for c in columns)
        batch.add_statement(f"UPDATE {table} SET {sets} WHERE {where}", [*after, *old_key])


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
