"""The keys of target tables: what the applier matches rows on and the writeset is made of.

A table's key is its primary key, else its first unique key whose columns are all NOT NULL
(empty: no usable key). Keys are read for a whole schema at once (a few information_schema
queries on one kept connection), so a job over thousands of tables pays one read per schema
after each start or DDL, not a connection and a query per table.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pymysql

from replication.mysql import ConnFactory


@dataclass(frozen=True)
class TableKey:
    """A target table's key columns (empty: no usable key) and its unique keys for writesets."""

    key: tuple[str, ...]
    uniques: tuple[tuple[str, ...], ...]


class TableKeys:
    """The key of each target table, read for a whole schema at once (a few information_schema
    queries on one kept connection, not a connection and a query per table) and cached;
    cleared after every DDL."""

    def __init__(self, conn_factory: ConnFactory) -> None:
        self._factory = conn_factory
        self._conn: pymysql.connections.Connection | None = None
        self._cache: dict[tuple[str, str], TableKey] = {}
        self._schemas: set[str] = set()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._schemas.clear()

    def get(self, schema: str, table: str) -> TableKey:
        with self._lock:
            found = self._cache.get((schema, table))
            if found is None:
                if schema not in self._schemas:
                    self._schemas.add(schema)
                    self._cache.update(self._read(schema))
                    found = self._cache.get((schema, table))
                if found is None:  # created since its schema was read, named in another case,
                    # or not there at all
                    found = next(iter(self._read(schema, table).values()), TableKey((), ()))
                    self._cache[(schema, table)] = found
            return found

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _read(self, schema: str, table: str | None = None) -> dict[tuple[str, str], TableKey]:
        """The keys of every base table of ``schema`` (or of one table)."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = self._factory()
            try:
                return _read_keys(self._conn, schema, table)
            except pymysql.err.OperationalError:
                self._conn.close()
                self._conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _read_keys(conn: pymysql.connections.Connection, schema: str,
               table: str | None) -> dict[tuple[str, str], TableKey]:
    where, args = ("TABLE_SCHEMA=%s", (schema,)) if table is None else (
        "TABLE_SCHEMA=%s AND TABLE_NAME=%s", (schema, table))
    with conn.cursor() as cur:
        cur.execute(f"SELECT TABLE_NAME FROM information_schema.TABLES WHERE {where} "
                    "AND TABLE_TYPE='BASE TABLE'", args)
        tables = [r[0] for r in cur.fetchall()]
        cur.execute(f"SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
                    f"WHERE {where} AND NON_UNIQUE=0 "
                    "ORDER BY TABLE_NAME, INDEX_NAME='PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX", args)
        index_rows = cur.fetchall()
        cur.execute(f"SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
                    f"WHERE {where} AND IS_NULLABLE='YES'", args)
        nullable_columns = set(cur.fetchall())
    indexes: dict[str, dict[str, list[str]]] = {name: {} for name in tables}
    nullable: set[tuple[str, str]] = set()
    for name, index, column in index_rows:
        indexes.setdefault(name, {}).setdefault(index, []).append(column)
        if (name, column) in nullable_columns:
            nullable.add((name, index))
    keys = {}
    for name, found in indexes.items():
        uniques = tuple(tuple(cols) for cols in found.values())
        usable = [tuple(cols) for index, cols in found.items() if (name, index) not in nullable]
        keys[(schema, name)] = TableKey(usable[0] if usable else (), uniques)
    return keys
