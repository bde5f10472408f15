"""The SQL text of one target transaction: ``BEGIN; ...; COMMIT`` in as few round trips as the
connection allows (one per ``ROUND_TRIP_BYTES`` with the MULTI_STATEMENTS client flag, else
one per statement). The server stops at the first failing statement, so an error leaves an
open transaction the sender rolls back.

Rows of the same kind for the same table (the same statement head and suffix) become one
multi-row statement, in their order, when they follow each other: within one source transaction
or across consecutive ones. A batch of one-row transactions (an INSERT, an UPDATE, a DELETE, an
INSERT, ...) would still be one statement per row, and the target spends most of its time on
statements, not rows. So rows of a *small* change (``REORDER_ROWS`` rows or fewer) may also join
an earlier statement of their kind, moving ahead of the statements in between, when the values
of every unique key they touch (before and after images) are none of those touched by the rows
they move ahead of. Changes to different rows under different unique-key values commute, so the
transaction's effect is the same. Statements that carry no key values (tables without a key,
key changes, big changes, the fence check) are never moved across.

Values are compared as the binlog carries them, i.e. as stored. Two rows whose values differ
but are equal under the column's collation (``'a'`` and ``'A'``) cannot hold them at the same time,
so moving one ahead of the other would break a unique key on the target: the statement fails,
and the sender applies the same batch again in source order (``Rendered.reordered``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pymysql
from pymysql.constants import SERVER_STATUS
from pymysql.converters import escape_float, escape_string

STATEMENT_BYTES = 512 * 1024  # one multi-row statement: far under any max_allowed_packet
ROUND_TRIP_BYTES = 1024 * 1024
REORDER_ROWS = 4


@dataclass
class Rendered:
    """A target transaction ready to send; ``reordered``: some rows moved ahead of others."""

    round_trips: list[str]
    reordered: bool


@dataclass
class _Rows:
    """Rows for one multi-row statement, and the unique-key values they touch (None: unknown,
    so nothing may move ahead of them)."""

    head: str
    suffix: str
    rows: list[Sequence[Any]]
    keys: set[tuple] | None


class Statements:
    """Collects one target transaction's statements (see the module docstring)."""

    def __init__(self, escape: Callable[[Any], str], multi: bool, reorder: bool = True) -> None:
        self._escape = escape
        self._multi = multi
        self._reorder = reorder
        self._reordered = False
        self._items: list[str | _Rows] = ["BEGIN"]

    def add(self, sql: str) -> None:
        self._items.append(sql)

    def add_statement(self, sql: str, args: Sequence[Any]) -> None:
        self.add(sql % tuple(map(self._escape, args)))

    def add_rows(self, head: str, suffix: str, rows: Sequence[Sequence[Any]],
                 keys: set[tuple] | None = None) -> None:
        """``head (row),(row),... suffix``; ``keys``: the unique-key values the rows touch,
        given only for a small change that may move ahead (see the module docstring)."""
        last = self._items[-1]
        if isinstance(last, _Rows) and last.head == head and last.suffix == suffix:
            target: _Rows | None = last
        elif self._reorder and keys is not None:
            target = self._earlier(head, suffix, keys)
            self._reordered |= target is not None
        else:
            target = None
        if target is None:
            self._items.append(_Rows(head, suffix, list(rows), keys))
            return
        target.rows.extend(rows)
        if target.keys is not None:
            if keys is None:
                target.keys = None
            else:
                target.keys |= keys

    def _earlier(self, head: str, suffix: str, keys: set[tuple]) -> _Rows | None:
        """The newest statement of this kind that rows touching ``keys`` may join."""
        for item in reversed(self._items):
            if isinstance(item, str) or item.keys is None:
                return None
            if item.head == head and item.suffix == suffix:
                return item
            if not item.keys.isdisjoint(keys):
                return None
        return None

    def render(self) -> Rendered:
        """The texts to send one after the other."""
        round_trips: list[str] = []
        parts: list[str] = []
        size = 0
        for sql in self._texts():
            parts.append(sql)
            size += len(sql) + 1
            if size >= ROUND_TRIP_BYTES:
                round_trips.extend([";".join(parts)] if self._multi else parts)
                parts, size = [], 0
        if parts:
            round_trips.extend([";".join(parts)] if self._multi else parts)
        return Rendered(round_trips, self._reordered)

    def _texts(self) -> Iterable[str]:
        escape = self._escape
        for item in self._items:
            if isinstance(item, str):
                yield item
                continue
            tuples: list[str] = []
            size = 0
            for row in item.rows:
                text = "(" + ",".join(map(escape, row)) + ")"
                tuples.append(text)
                size += len(text) + 1
                if size >= STATEMENT_BYTES:
                    yield item.head + ",".join(tuples) + item.suffix
                    tuples, size = [], 0
            if tuples:
                yield item.head + ",".join(tuples) + item.suffix


def key_values(table: str, uniques: Sequence[Sequence[int]],
               images: Iterable[Sequence[Any]]) -> set[tuple] | None:
    """Every unique key's values in ``images`` (positions per key in ``uniques``), named by
    table and key; None when a value cannot be compared (not hashable)."""
    try:
        return {(table, n, tuple([image[i] for i in cols]))
                for image in images for n, cols in enumerate(uniques)}
    except TypeError:
        return None


def literal(conn: pymysql.connections.Connection) -> Callable[[Any], str]:
    """``conn.escape`` with the commonest types first and inlined: it is the dest's hottest
    call, and pymysql reaches them only after several checks (same text for every value)."""
    escape = conn.escape
    # The session's sql_mode is '' (set on connect), so backslash escapes apply; should it
    # ever say otherwise, strings take pymysql's own path, which honours it.
    # (server_status is set by pymysql at login; types-PyMySQL does not declare it)
    server_status: int = conn.server_status  # type: ignore[attr-defined]
    plain_strings = not server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES
    not_finite = ("inf", "-inf", "nan")

    def escaped(value: Any) -> str:
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
    return escaped
