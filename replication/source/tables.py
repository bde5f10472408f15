"""Source table definitions for the full copy, and the DDL that recreates them on the target.

``list_tables`` finds the in-scope base tables through the job's ``TableFilter`` and describes
each one: its copied columns (``column_map_from`` order, generated columns left out), the key
the copy pages by (the primary key, else the shortest unique key over NOT NULL columns, else
none) and the ``SHOW CREATE`` text the target DDL is derived from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from replication.errors import ConfigError, SourceError
from replication.mysql import quote_ident, quote_table
from replication.scope.filters import TableFilter, TableMapping
from replication.source.values import ColumnInfo

# Most listings the source's tables are read in while DDL keeps changing them.
LISTINGS = 10
_CREATE_TABLE_HEAD = re.compile(r"^CREATE TABLE\s+`(?:[^`]|``)+`", re.IGNORECASE)
_CREATE_DB_HEAD = re.compile(
    r"^CREATE DATABASE\s+(?:/\*!32312 IF NOT EXISTS\*/\s+|IF NOT EXISTS\s+)?`(?:[^`]|``)+`",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TableSpec:
    """One source table the full copy reads, and how."""

    mapping: TableMapping
    columns: tuple[ColumnInfo, ...]  # what is copied, in insert order
    key: tuple[ColumnInfo, ...]  # () when the table has no usable key
    create_table_sql: str
    create_database_sql: str
    rows_estimate: int = 0

    @property
    def name(self) -> str:
        return quote_table(self.mapping.source_schema, self.mapping.source_table)


def _query(conn: Any, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _column(name: Any, data_type: Any, charset: Any, nullable: Any, extra: Any,
            generation: Any) -> tuple[ColumnInfo, bool]:
    extra_text = _text(extra or "").upper()
    generated = bool(generation) or any(
        word in extra_text for word in ("GENERATED", "VIRTUAL", "PERSISTENT", "STORED")
    )
    info = ColumnInfo(_text(name), _text(data_type).lower(),
                      _text(charset).lower() if charset else None, _text(nullable) == "YES")
    return info, generated


_COLUMNS_SQL = ("SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME, "
                "IS_NULLABLE, EXTRA, GENERATION_EXPRESSION FROM information_schema.COLUMNS ")
_UNIQUE_SQL = ("SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, COLUMN_NAME "
               "FROM information_schema.STATISTICS WHERE NON_UNIQUE = 0 AND ")
_ORDER_COLUMNS = " ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION"
_ORDER_UNIQUE = " ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"

Columns = list[tuple[ColumnInfo, bool]]
Uniques = dict[str, list[str]]


def _all_columns(conn: Any, schema: str, table: str) -> Columns:
    """(column, is_generated) for every column in ordinal order."""
    rows = _query(conn, _COLUMNS_SQL + "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
                  + _ORDER_COLUMNS, (schema, table))
    return [_column(*row[2:]) for row in rows]


def _pick_columns(mapping: TableMapping, columns: Columns) -> tuple[ColumnInfo, ...]:
    if not mapping.columns:
        return tuple(info for info, generated in columns if not generated)
    by_name = {info.name: info for info, _ in columns}
    missing = [c for c in mapping.columns if c not in by_name]
    if missing:
        raise ConfigError(f"column_map_from of {quote_table(mapping.source_schema, mapping.source_table)}"
                          f" names unknown columns: {', '.join(missing)}")
    return tuple(by_name[c] for c in mapping.columns)


def copied_columns(conn: Any, mapping: TableMapping) -> tuple[ColumnInfo, ...]:
    """The source columns the copy reads, in the order it inserts them."""
    return _pick_columns(mapping, _all_columns(conn, mapping.source_schema, mapping.source_table))


def _pick_key(indexes: Uniques, columns: Columns) -> tuple[ColumnInfo, ...]:
    by_name = {info.name: info for info, _ in columns}
    usable = {
        name: cols for name, cols in indexes.items()
        if all(c in by_name and not by_name[c].nullable for c in cols)
    }
    if not usable:
        return ()
    best = "PRIMARY" if "PRIMARY" in usable else min(usable, key=lambda n: (len(usable[n]), n))
    return tuple(by_name[c] for c in usable[best])


def choose_key(conn: Any, schema: str, table: str) -> tuple[ColumnInfo, ...]:
    """The primary key, else the unique key over NOT NULL columns with the fewest columns."""
    rows = _query(conn, _UNIQUE_SQL + "TABLE_SCHEMA = %s AND TABLE_NAME = %s" + _ORDER_UNIQUE,
                  (schema, table))
    indexes: Uniques = {}
    for _, _, index_name, column in rows:
        indexes.setdefault(_text(index_name), []).append(_text(column))
    return _pick_key(indexes, _all_columns(conn, schema, table))


def _show_create(conn: Any, sql: str) -> str:
    rows = _query(conn, sql)
    if not rows:
        raise SourceError(f"{sql} returned nothing")
    return _text(rows[0][1])


def describe_table(conn: Any, mapping: TableMapping, rows_estimate: int = 0) -> TableSpec:
    """Everything the copy needs about one source table."""
    return describe_tables(conn, [(mapping, rows_estimate)])[0]


def describe_tables(conn: Any, tables: list[tuple[TableMapping, int]]) -> list[TableSpec]:
    """``describe_table`` for many tables at once: the catalog is read in one query per kind
    for all of them (per-table catalog queries cost more than the copy of a small table)."""
    if not tables:
        return []
    columns: dict[tuple[str, str], Columns] = {}
    uniques: dict[tuple[str, str], Uniques] = {}
    schemas = sorted({m.source_schema for m, _ in tables})
    wanted = {(m.source_schema, m.source_table) for m, _ in tables}
    marks = ", ".join(["%s"] * len(schemas))
    # Whole schemas, filtered here: an IN list of (schema, table) pairs defeats the catalog's
    # per-table lookup as much as a schema does, and is far longer to send.
    for row in _query(conn, _COLUMNS_SQL + f"WHERE TABLE_SCHEMA IN ({marks})" + _ORDER_COLUMNS,
                      schemas):
        key = (_text(row[0]), _text(row[1]))
        if key in wanted:
            columns.setdefault(key, []).append(_column(*row[2:]))
    for schema, table, index_name, column in _query(
            conn, _UNIQUE_SQL + f"TABLE_SCHEMA IN ({marks})" + _ORDER_UNIQUE, schemas):
        key = (_text(schema), _text(table))
        if key in wanted:
            uniques.setdefault(key, {}).setdefault(_text(index_name), []).append(_text(column))
    databases: dict[str, str] = {}
    specs = []
    for mapping, estimate in tables:
        key = (mapping.source_schema, mapping.source_table)
        table = quote_table(*key)
        if mapping.source_schema not in databases:
            databases[mapping.source_schema] = _show_create(
                conn, f"SHOW CREATE DATABASE {quote_ident(mapping.source_schema)}")
        cols = columns.get(key, [])
        specs.append(TableSpec(
            mapping=mapping,
            columns=_pick_columns(mapping, cols),
            key=_pick_key(uniques.get(key, {}), cols),
            create_table_sql=_show_create(conn, f"SHOW CREATE TABLE {table}"),
            create_database_sql=databases[mapping.source_schema],
            rows_estimate=estimate,
        ))
    return specs


def _base_tables(conn: Any, estimates: bool) -> dict[tuple[str, str], int]:
    """(schema, table) -> row estimate (0 without ``estimates``, which open every table)."""
    rows = _query(
        conn,
        f"SELECT TABLE_SCHEMA, TABLE_NAME, {'IFNULL(TABLE_ROWS, 0)' if estimates else '0'} "
        "FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' "
        "ORDER BY TABLE_SCHEMA, TABLE_NAME",
    )
    return {(_text(schema), _text(table)): int(estimate) for schema, table, estimate in rows}


def base_tables(conn: Any) -> dict[tuple[str, str], int]:
    """Every base table of the source with its row estimate.

    A table that ALTER TABLE rebuilds while the server lists the tables can be missing from
    that listing (MariaDB swaps the table's files under a temporary name), so the tables are
    listed again until two listings in a row agree, and a table any listing named is kept (one
    dropped meanwhile is found missing when its copy starts)."""
    found = _base_tables(conn, estimates=True)
    previous = set(found)
    for _ in range(LISTINGS - 1):
        names = _base_tables(conn, estimates=False)
        for key in names.keys() - found.keys():
            found[key] = 0
        if names.keys() == previous:
            break
        previous = set(names)
    return dict(sorted(found.items()))


def list_tables(conn: Any, table_filter: TableFilter) -> list[TableSpec]:
    """Every in-scope base table of the source, with its row estimate, largest first."""
    matched = []
    for (schema, table), estimate in base_tables(conn).items():
        mapping = table_filter.match(schema, table)
        if mapping is not None:
            matched.append((mapping, estimate))
    specs = describe_tables(conn, matched)
    # Largest first, so the long tables start early and parallel readers finish together.
    specs.sort(key=lambda s: -s.rows_estimate)
    return specs


def target_create_table(create_sql: str, target_schema: str, target_table: str) -> str:
    """The source's ``SHOW CREATE TABLE`` text renamed to the target, as IF NOT EXISTS."""
    head = f"CREATE TABLE IF NOT EXISTS {quote_table(target_schema, target_table)}"
    renamed, count = _CREATE_TABLE_HEAD.subn(lambda _: head, create_sql, count=1)
    if count != 1:
        raise SourceError(f"unexpected SHOW CREATE TABLE output: {create_sql[:80]!r}")
    return renamed


def target_create_database(create_sql: str, target_schema: str) -> str:
    """The source's ``SHOW CREATE DATABASE`` text renamed to the target, as IF NOT EXISTS."""
    head = f"CREATE DATABASE IF NOT EXISTS {quote_ident(target_schema)}"
    renamed, count = _CREATE_DB_HEAD.subn(lambda _: head, create_sql, count=1)
    return renamed if count == 1 else head
