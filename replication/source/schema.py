"""Table definitions as the binlog needs them to decode rows, and their versions over time.

A rows event carries values by position and, without ``binlog_row_metadata=FULL``, neither the
column names, nor signedness, nor character sets, nor ENUM/SET values. ``TableDef`` holds those,
per column in table order (every column the table map lists: generated and invisible ones
included), as they were when a row was written. ``SchemaVersion`` is one definition of one table
from a point of the binlog on: the snapshot's or the start's definitions, then one per DDL;
``definition=None`` means the table no longer exists there.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pymysql

from replication.gtid import GtidSet
from replication.position import BinlogPosition

# information_schema.COLUMNS.DATA_TYPE names (lower case) of the families below.
INTEGER_TYPES = frozenset({"tinyint", "smallint", "mediumint", "int", "integer", "bigint"})
SIGNED_NUMBERS = INTEGER_TYPES | {"decimal", "numeric", "float", "double", "real"}
TEXT_TYPES = frozenset({"char", "varchar", "tinytext", "text", "mediumtext", "longtext"})
BINARY_TYPES = frozenset({"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"})
CHOICE_TYPES = frozenset({"enum", "set"})

# Where a DDL version starts: the snapshot or start definitions are ``BASE``.
BASE = "base"


@dataclass(frozen=True)
class ColumnDef:
    """One column: what decoding a row image needs beyond the table map's type metadata."""

    name: str
    data_type: str  # information_schema DATA_TYPE, lower case ("int", "varchar", "enum", ...)
    unsigned: bool = False
    charset: str | None = None  # text, ENUM and SET columns; "binary" for binary strings
    values: tuple[str, ...] = ()  # ENUM / SET members in definition order
    # information_schema COLUMN_TYPE, lower case ("decimal(65,30)", "datetime(6)", "bit(10)",
    # "binary(16)", "int(10) unsigned"): precision, scale, fractional digits and lengths, which
    # a Kafka message's schema carries. Not part of equality: decoding does not depend on it.
    column_type: str = field(default="", compare=False)
    nullable: bool = field(default=True, compare=False)

    def renamed(self, name: str) -> ColumnDef:
        return replace(self, name=name)


@dataclass(frozen=True)
class TableDef:
    """One table's columns in table order, and the table's default character set (what a
    column added later without its own charset takes)."""

    schema: str
    table: str
    columns: tuple[ColumnDef, ...]
    charset: str = "utf8mb4"
    unknown: str = ""  # why the columns are not known (a DDL that could not be read)
    # The primary key's columns in key order, () without one: what a Kafka message is keyed
    # by. Not part of equality, as ``ColumnDef.column_type``.
    key: tuple[str, ...] = field(default=(), compare=False)

    def renamed(self, schema: str, table: str) -> TableDef:
        return TableDef(schema, table, self.columns, self.charset, self.unknown, self.key)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> TableDef:
        data = json.loads(text)
        columns = tuple(ColumnDef(c["name"], c["data_type"], bool(c["unsigned"]), c["charset"],
                                  tuple(c["values"]), c.get("column_type", ""),
                                  bool(c.get("nullable", True))) for c in data["columns"])
        return cls(data["schema"], data["table"], columns, data["charset"], data.get("unknown", ""),
                   tuple(data.get("key", ())))


@dataclass(frozen=True)
class SchemaVersion:
    """The definition of ``schema.table`` from ``position`` on (``None``: dropped there).

    ``base`` versions were read from the source: at the snapshot's consistent point of that
    table, or at the start of an incremental-only job; the others were made by the DDL whose
    transaction is ``gtid`` (empty without GTIDs) and ends at ``position``. A DDL at or
    before ``position`` is part of the definition already."""

    schema: str
    table: str
    position: BinlogPosition
    definition: TableDef | None
    gtid: str = ""
    base: bool = False

    @property
    def ident(self) -> str:
        """What made it, unique per table: ``base``, the DDL's GTID, or its ``file:pos``."""
        if self.base:
            return BASE
        return self.gtid or f"{self.position.file}:{self.position.pos}"


def position_covers(position: BinlogPosition, gtid: str, file: str, pos: int) -> bool:
    """Whether the event ending at ``file:pos`` with ``gtid`` is at or before ``position``.

    By GTID when both have one (a set's content does not depend on which server wrote the
    file); by file/pos otherwise (binlog file names sort in their write order)."""
    if gtid and position.gtid_set:
        return gtid in GtidSet.parse(position.gtid_set)
    if not position.file or not file:
        return False
    return (file, pos) <= (position.file, position.pos)


@dataclass
class SchemaHistory:
    """Versions of several tables in binlog order, and which of them apply at a position."""

    versions: list[SchemaVersion] = field(default_factory=list)

    def at(self, position: BinlogPosition) -> dict[tuple[str, str], SchemaVersion]:
        """Per table, the newest version at or before ``position`` (base versions always
        count: they are where the table's history starts)."""
        found: dict[tuple[str, str], SchemaVersion] = {}
        for v in self.versions:
            if v.base or position_covers(position, v.gtid, v.position.file, v.position.pos):
                found[(v.schema, v.table)] = v
        return found


def parse_choice_values(column_type: str) -> tuple[str, ...]:
    """ENUM/SET members from ``information_schema.COLUMNS.COLUMN_TYPE``, e.g.
    ``enum('a','b''c')``: quoted with doubled quotes (and backslashes, doubled)."""
    start = column_type.find("(")
    values: list[str] = []
    i = start + 1
    while 0 < i < len(column_type):
        if column_type[i] != "'":
            i += 1
            continue
        i += 1
        chars: list[str] = []
        while i < len(column_type):
            ch = column_type[i]
            if ch == "'" and column_type[i + 1:i + 2] == "'":
                chars.append("'")
                i += 2
            elif ch == "\\" and i + 1 < len(column_type):
                chars.append(column_type[i + 1])
                i += 2
            elif ch == "'":
                i += 1
                break
            else:
                chars.append(ch)
                i += 1
        values.append("".join(chars))
    return tuple(values)


def column_from_catalog(name: str, data_type: str, column_type: str,
                        charset: str | None, nullable: bool = True) -> ColumnDef:
    """A column as ``information_schema.COLUMNS`` describes it."""
    kind = data_type.lower()
    if kind in BINARY_TYPES:
        charset = "binary"
    values = parse_choice_values(column_type) if kind in CHOICE_TYPES else ()
    # The type without ENUM/SET members (kept in ``values``), which can be long.
    shown = kind if kind in CHOICE_TYPES else column_type.lower()
    return ColumnDef(name, kind, "unsigned" in column_type.lower() and kind in SIGNED_NUMBERS,
                     charset.lower() if charset else None, values, shown, nullable)


def _rows(conn: Any, sql: str, args: Any) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_table_def(conn: Any, schema: str, table: str) -> TableDef | None:
    """The table's definition as the server has it now (None when it does not exist)."""
    return read_table_defs(conn, [(schema, table)]).get((schema, table))


def read_table_defs(conn: Any, tables: list[tuple[str, str]]) -> dict[tuple[str, str], TableDef]:
    """``read_table_def`` of many tables, in one catalog query per kind (whole schemas, filtered
    here, for more than one table); tables that do not exist are left out."""
    if not tables:
        return {}
    wanted = set(tables)
    if len(wanted) == 1:
        where, args = "TABLE_SCHEMA = %s AND TABLE_NAME = %s", list(tables[0])
    else:
        schemas = sorted({schema for schema, _ in wanted})
        where, args = f"TABLE_SCHEMA IN ({', '.join(['%s'] * len(schemas))})", schemas
    columns: dict[tuple[str, str], list[ColumnDef]] = {}
    for schema, table, name, data_type, column_type, charset, nullable in _rows(
            conn, "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, "
                  f"CHARACTER_SET_NAME, IS_NULLABLE FROM information_schema.COLUMNS WHERE {where} "
                  "ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION", args):
        key = (_text(schema), _text(table))
        if key in wanted:
            columns.setdefault(key, []).append(column_from_catalog(
                _text(name), _text(data_type), _text(column_type),
                _text(charset) if charset else None, _text(nullable) == "YES"))
    primary: dict[tuple[str, str], list[str]] = {}
    for schema, table, name in _rows(
            conn, "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME FROM information_schema.STATISTICS "
                  f"WHERE {where} AND INDEX_NAME = 'PRIMARY' "
                  "ORDER BY TABLE_SCHEMA, TABLE_NAME, SEQ_IN_INDEX", args):
        primary.setdefault((_text(schema), _text(table)), []).append(_text(name))
    where_t = where.replace("TABLE_", "t.TABLE_")
    charsets = {(_text(schema), _text(table)): _text(charset).lower()
                for schema, table, charset in _rows(
                    conn, "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, c.CHARACTER_SET_NAME FROM "
                          "information_schema.TABLES t JOIN "
                          "information_schema.COLLATION_CHARACTER_SET_APPLICABILITY c ON "
                          f"c.COLLATION_NAME = t.TABLE_COLLATION WHERE {where_t}", args)}
    out = {}
    for key, cols in columns.items():
        if any(c.data_type == "longtext" for c in cols):
            json_columns = _mariadb_json_columns(conn, *key)
            cols = [replace(c, data_type="json", column_type="json")
                    if c.data_type == "longtext" and c.name in json_columns else c for c in cols]
        out[key] = TableDef(key[0], key[1], tuple(cols), charsets.get(key, "utf8mb4"),
                            key=tuple(primary.get(key, ())))
    return out


def _mariadb_json_columns(conn: Any, schema: str, table: str) -> set[str]:
    """MariaDB's JSON columns: LONGTEXT with the column check ``json_valid(`name`)`` that
    MariaDB adds (information_schema calls them longtext; the DDL and a user say JSON). MySQL
    has a JSON type of its own, and no TABLE_NAME in this view: nothing is found there."""
    try:
        rows = _rows(conn, "SELECT CONSTRAINT_NAME FROM information_schema.CHECK_CONSTRAINTS "
                           "WHERE CONSTRAINT_SCHEMA = %s AND TABLE_NAME = %s AND LEVEL = 'Column' "
                           "AND CHECK_CLAUSE = CONCAT('json_valid(`', CONSTRAINT_NAME, '`)')",
                     (schema, table))
    except pymysql.err.MySQLError:
        return set()
    return {_text(name) for (name,) in rows}


def read_schema_charsets(conn: Any) -> dict[str, str]:
    """Every database's default character set (what CREATE TABLE without one takes)."""
    rows = _rows(conn, "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME "
                       "FROM information_schema.SCHEMATA", None)
    return {_text(name): _text(charset).lower() for name, charset in rows}

