"""Turns source transactions into what the target receives: scope, renames, columns, ``where``.

``where`` is evaluated by a MySQL server (the source), not re-implemented: exactness matters
more than speed, and collations, implicit casts and NULL logic then match the snapshot's
``SELECT ... WHERE``. Rows are evaluated in batches, one query per table event and chunk:
``SELECT n, (<where>) FROM (SELECT 0 AS n, %s AS c1 ... UNION ALL ...) AS t``.
An UPDATE whose old row fails and new row passes becomes an INSERT, the reverse a DELETE, and
both failing drops it. A transaction left empty still travels, so its GTID is checkpointed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import pymysql

from replication.errors import SourceError, UnsupportedDDL
from replication.mysql import quote_ident
from replication.scope.ddl import DDLRewriter, UnsupportedStatement
from replication.scope.filters import TableFilter, TableMapping
from replication.wire.changes import DDL, DELETE, INSERT, UPDATE, RowEvent, Transaction

log = logging.getLogger(__name__)

WHERE_BATCH = 500


class WhereEvaluator:
    """Evaluates a table's ``where`` expression on row images with a MySQL connection."""

    def __init__(self, conn_factory: Callable[[], pymysql.connections.Connection]) -> None:
        self._factory = conn_factory
        self._conn: pymysql.connections.Connection | None = None

    def _cursor(self) -> Any:
        if self._conn is None:
            self._conn = self._factory()
            with self._conn.cursor() as cur:
                cur.execute("SET time_zone = '+00:00'")  # TIMESTAMP values arrive as UTC
        return self._conn.cursor()

    def evaluate(self, where: str, columns: Sequence[str], images: Sequence[Sequence[Any]]) -> list[bool]:
        results: list[bool] = []
        for start in range(0, len(images), WHERE_BATCH):
            results.extend(self._batch(where, columns, images[start:start + WHERE_BATCH]))
        return results

    def _batch(self, where: str, columns: Sequence[str], images: Sequence[Sequence[Any]]) -> list[bool]:
        first = ", ".join(["%s AS `__n`"] + [f"%s AS {quote_ident(c)}" for c in columns])
        rest = ", ".join(["%s"] * (len(columns) + 1))
        selects = [f"SELECT {first}"] + [f"SELECT {rest}"] * (len(images) - 1)
        # The query has %s arguments, so a % of the expression (LIKE 'a%', MOD) is doubled.
        sql = (f"SELECT `__n`, ({where.replace('%', '%%')}) "
               f"FROM ({' UNION ALL '.join(selects)}) AS t")
        args = [v for n, image in enumerate(images) for v in (n, *image)]
        try:
            with self._cursor() as cur:
                cur.execute(sql, args)
                found = {int(n): bool(v) for n, v in cur.fetchall()}
        except pymysql.err.MySQLError as exc:
            self.close()
            raise SourceError(f"cannot evaluate where {where!r}: {exc.args[-1]}") from exc
        return [found.get(n, False) for n in range(len(images))]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class RowFilter:
    """Maps a source transaction onto the target's names, columns and rows."""

    def __init__(self, table_filter: TableFilter, where: WhereEvaluator | None = None) -> None:
        self._filter = table_filter
        self._where = where
        self._ddl = DDLRewriter(table_filter)
        self._mappings: dict[tuple[str, str], TableMapping | None] = {}

    def in_scope(self, schema: str, table: str) -> bool:
        return self._mapping(schema, table) is not None

    def _mapping(self, schema: str, table: str) -> TableMapping | None:
        key = (schema, table)
        if key not in self._mappings:
            self._mappings[key] = self._filter.match(schema, table)
        return self._mappings[key]

    def apply(self, tx: Transaction) -> Transaction:
        changes: list[RowEvent | DDL] = []
        for change in tx.changes:
            if isinstance(change, DDL):
                ddl = self._rewrite_ddl(tx, change)
                if ddl is not None:
                    changes.append(ddl)
                    # Column names or scope of a table may change: remap afterwards.
                    self._mappings.clear()
            else:
                changes.extend(self._rows(change))
        tx.changes = changes
        tx.row_count = sum(len(c.rows) for c in changes if isinstance(c, RowEvent))
        return tx

    def _rewrite_ddl(self, tx: Transaction, ddl: DDL) -> DDL | None:
        try:
            rewritten = self._ddl.rewrite(ddl.schema, ddl.statement)
        except UnsupportedStatement as exc:
            raise UnsupportedDDL(
                f"cannot replicate DDL of transaction {tx.ident} ({exc}): {ddl.statement[:200]!r}; "
                "apply it on the target by hand and restart the job after that transaction") from exc
        if rewritten is None:
            log.info("skipping DDL out of scope in %s", tx.ident)
            return None
        return DDL(ddl.schema, rewritten.statement)

    def _rows(self, event: RowEvent) -> list[RowEvent]:
        mapping = self._mapping(event.schema, event.table)
        if mapping is None:
            return []
        if mapping.where and self._where is not None:
            events = self._filter_where(event, mapping.where)
        else:
            events = [event]
        return [self._project(e, mapping) for e in events if e.rows]

    def _filter_where(self, event: RowEvent, where: str) -> list[RowEvent]:
        cols = event.columns
        if event.kind != UPDATE:
            keep = self._where.evaluate(where, cols, event.rows)  # type: ignore[union-attr]
            return [RowEvent(event.schema, event.table, event.kind, cols,
                             [r for r, k in zip(event.rows, keep, strict=True) if k])]
        images = [img for pair in event.rows for img in pair]
        passed = self._where.evaluate(where, cols, images)  # type: ignore[union-attr]
        out: list[RowEvent] = []
        for i, (before, after) in enumerate(event.rows):
            old_ok, new_ok = passed[2 * i], passed[2 * i + 1]
            if old_ok and new_ok:
                kind, row = UPDATE, [before, after]
            elif new_ok:
                kind, row = INSERT, after
            elif old_ok:
                kind, row = DELETE, before
            else:
                continue
            if out and out[-1].kind == kind:
                out[-1].rows.append(row)
            else:
                out.append(RowEvent(event.schema, event.table, kind, cols, [row]))
        return out

    def _project(self, event: RowEvent, mapping: TableMapping) -> RowEvent:
        columns, rows = event.columns, event.rows
        if mapping.columns:
            index = {c: i for i, c in enumerate(columns)}
            try:
                picks = [index[c] for c in mapping.columns]
            except KeyError as exc:
                raise SourceError(f"column_map_from names {exc.args[0]!r}, which "
                                  f"{event.schema}.{event.table} does not have") from exc
            columns = list(mapping.columns)
            if event.kind == UPDATE:
                rows = [[[b[i] for i in picks], [a[i] for i in picks]] for b, a in rows]
            else:
                rows = [[r[i] for i in picks] for r in rows]
        return RowEvent(mapping.target_schema, mapping.target_table, event.kind, columns, rows)
