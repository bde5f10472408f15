"""The src's schema history: the definitions of the replicated tables at the reader's position.

The tracker starts from definitions read from the source at a known point (each table's
snapshot position after a full copy, the start of an incremental-only job) or from the sink's
resume store (a restart: the newest version of each table at or before the restart position),
applies every DDL the binlog carries (``SchemaDDL``) and hands each new version to ``record``
*before* the transactions after the DDL are sent: a version is a function of the binlog, so
recording it again after a crash is harmless, and a restart never finds a checkpoint beyond a
DDL whose version is missing.

Rows are checked against their table map, which the binlog always carries: the column count and
each column's type family must match the tracked definition, or the task stops with the table
and position. Without ``binlog_row_metadata=FULL`` the table map has no names, signedness,
charsets or ENUM/SET members; the tracker fills them in from the tracked definition. With FULL
metadata the map's names are kept, and a disagreement with the tracked names is logged and the
tracked definition corrected from the map.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from pymysql.charset import charset_by_name

from replication.errors import SourceError
from replication.gtid import GtidSet
from replication.position import BinlogPosition
from replication.source.ddl_tokens import UnknownSyntax
from replication.source.schema import (
    SchemaVersion,
    TableDef,
    position_covers,
    read_schema_charsets,
    read_table_def,
)
from replication.source.schema_ddl import Catalog, Key, SchemaDDL

log = logging.getLogger(__name__)

Record = Callable[[list[SchemaVersion]], None]

_BLOBS = {252}
# The table map's type codes (enum_field_types) each DATA_TYPE may be written with.
_TYPE_CODES: dict[str, frozenset[int]] = {
    "tinyint": frozenset({1}), "smallint": frozenset({2}), "mediumint": frozenset({9}),
    "int": frozenset({3}), "integer": frozenset({3}), "bigint": frozenset({8}),
    "float": frozenset({4}), "double": frozenset({5}), "real": frozenset({5}),
    "decimal": frozenset({0, 246}), "numeric": frozenset({0, 246}), "bit": frozenset({16}),
    "year": frozenset({13}), "date": frozenset({10, 14}), "time": frozenset({11, 19}),
    "datetime": frozenset({12, 18}), "timestamp": frozenset({7, 17}),
    "char": frozenset({254}), "binary": frozenset({254}), "varchar": frozenset({15, 253}),
    "varbinary": frozenset({15, 253}), "enum": frozenset({247, 254}),
    "set": frozenset({248, 254}), "json": frozenset({245, 252}),
    "inet4": frozenset({254}), "inet6": frozenset({254}), "uuid": frozenset({254}),
}
for _name in ("tinytext", "text", "mediumtext", "longtext", "tinyblob", "blob", "mediumblob",
              "longblob"):
    _TYPE_CODES[_name] = frozenset(_BLOBS)
for _name in ("geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
              "multipolygon", "geometrycollection"):
    _TYPE_CODES[_name] = frozenset({255})


def _encoding(charset: str | None) -> str | None:
    """The Python codec name the library decodes a charset with (as with FULL metadata)."""
    if charset is None:
        return None
    found = charset_by_name(charset)
    return found.encoding if found is not None else charset


class SchemaTracker:
    """Tracked definitions of the tables ``in_scope`` accepts, kept current by the binlog."""

    def __init__(self, catalog: Catalog, versions: dict[Key, SchemaVersion],
                 in_scope: Callable[[str, str], bool], record: Record) -> None:
        self._catalog = catalog
        self._since = dict(versions)  # per table: the version its definition comes from
        self._ddl = SchemaDDL(catalog, in_scope)
        self._record = record
        self._checked: dict[int, tuple[Any, TableDef | None]] = {}
        self._parsed: dict[str, GtidSet] = {}
        self._past_copy: set[Key] = set()

    @property
    def tables(self) -> dict[Key, TableDef]:
        return self._catalog.tables

    # -- DDL ------------------------------------------------------------------------------
    def apply_ddl(self, default_schema: str, statement: str, gtid: str,
                  position: BinlogPosition) -> bool:
        """Apply a DDL ending at ``position`` (``gtid_set`` including it); record the new
        versions. Tables whose definition already includes the DDL keep theirs; True when
        that is every table the DDL changes (the full copy read them after it)."""
        before = dict(self._catalog.tables)
        try:
            changed = self._ddl.apply(default_schema, statement)
        except UnknownSyntax as exc:
            log.warning("schema history: cannot read DDL %r at %s: %s", statement[:200],
                        position, exc)
            return False
        versions = []
        keys = list(dict.fromkeys(changed))
        for key in keys:
            since = self._since.get(key)
            if since is not None and position_covers(since.position, gtid, position.file,
                                                     position.pos):
                self._restore(key, before.get(key))
                continue
            table = self._catalog.tables.get(key)
            version = SchemaVersion(key[0], key[1], position, table, gtid)
            self._since[key] = version
            versions.append(version)
            if table is not None and table.unknown:
                log.warning("schema history: %s.%s: %s", key[0], key[1], table.unknown)
        if versions:
            self._record(versions)
        return bool(keys) and not versions

    def copied_after(self, schema: str, table: str, gtid: str, file: str, pos: int) -> bool:
        """Whether the table's definition was read by a full copy whose snapshot already holds
        the transaction ``gtid`` ending at ``file:pos`` (so its rows are in the copy)."""
        key = (schema, table)
        since = self._since.get(key)
        if since is None or not since.base or key in self._past_copy:
            return False
        if gtid and since.position.gtid_set:
            parsed = self._parsed.get(since.position.gtid_set)
            if parsed is None:
                parsed = self._parsed[since.position.gtid_set] = GtidSet.parse(since.position.gtid_set)
            covered = gtid in parsed
        else:
            covered = position_covers(since.position, gtid, file, pos)
        if not covered:
            self._past_copy.add(key)  # the binlog is read in order: all that follows is newer
        return covered

    def _restore(self, key: Key, table: TableDef | None) -> None:
        if table is None:
            self._catalog.tables.pop(key, None)
        else:
            self._catalog.tables[key] = table

    # -- rows -----------------------------------------------------------------------------
    def decorate(self, table_id: int, schema: str, table: str, columns: Sequence[Any],
                 where: str) -> None:
        """Check the table map's ``columns`` against the tracked definition and fill in what
        the map lacks, once per table map (``columns`` is the library's list, kept per id)."""
        cached = self._checked.get(table_id)
        tracked = self._catalog.tables.get((schema, table))
        if cached is not None and cached[0] is columns and cached[1] is tracked:
            return
        full = bool(columns) and all(getattr(c, "name", None) for c in columns)
        if tracked is None or tracked.unknown:
            if not full:
                reason = tracked.unknown if tracked is not None else "no definition is known"
                raise SourceError(f"cannot decode rows of {schema}.{table} at {where}: {reason} "
                                  "and the binlog carries no column names "
                                  "(binlog_row_metadata is not FULL)")
            self._checked[table_id] = (columns, tracked)
            return
        check_table_map(tracked, columns, where)
        if full:
            self._compare_names(tracked, columns, where)
        else:
            _fill_in(tracked, columns)
        self._checked[table_id] = (columns, self._catalog.tables.get((schema, table)))

    def _compare_names(self, tracked: TableDef, columns: Sequence[Any], where: str) -> None:
        names = [c.name for c in columns]
        if [n.lower() for n in names] == [c.name.lower() for c in tracked.columns]:
            return
        log.warning("schema history: %s.%s at %s: the binlog names the columns %s, the tracked "
                    "definition %s; using the binlog's", tracked.schema, tracked.table, where,
                    names, [c.name for c in tracked.columns])
        fixed = tuple(c.renamed(n)
                      for n, c in zip(names, tracked.columns, strict=True))
        renames = {c.name: n for n, c in zip(names, tracked.columns, strict=True)}
        self._catalog.tables[(tracked.schema, tracked.table)] = TableDef(
            tracked.schema, tracked.table, fixed, tracked.charset,
            key=tuple(renames.get(k, k) for k in tracked.key))


def check_table_map(tracked: TableDef, columns: Sequence[Any], where: str) -> None:
    """The table map must have the tracked definition's column count and type families."""
    name = f"{tracked.schema}.{tracked.table}"
    if len(columns) != len(tracked.columns):
        raise SourceError(
            f"the binlog's table map of {name} at {where} has {len(columns)} columns, the tracked "
            f"definition {len(tracked.columns)}; the rows cannot be decoded safely (was a DDL "
            "missed? re-create the job with a full copy)")
    for i, (mapped, column) in enumerate(zip(columns, tracked.columns, strict=True)):
        allowed = _TYPE_CODES.get(column.data_type)
        if allowed is not None and mapped.type not in allowed:
            raise SourceError(
                f"the binlog's table map of {name} at {where} has type code {mapped.type} for "
                f"column {i + 1}, the tracked definition {column.data_type} ({column.name}); the "
                "rows cannot be decoded safely (re-create the job with a full copy)")


def _fill_in(tracked: TableDef, columns: Sequence[Any]) -> None:
    """Give the library's columns what FULL metadata would have carried."""
    for mapped, column in zip(columns, tracked.columns, strict=True):
        mapped.name = column.name
        mapped.unsigned = column.unsigned
        if column.charset is not None:
            mapped.character_set_name = _encoding(column.charset)
        if column.data_type == "enum":
            mapped.enum_values = ["", *column.values]
        elif column.data_type == "set":
            mapped.set_values = list(column.values)


def read_catalog(conn: Any, in_scope: Callable[[str, str], bool]) -> dict[Key, TableDef]:
    """The source's current definitions of the in-scope base tables."""
    with conn.cursor() as cur:
        cur.execute("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES "
                    "WHERE TABLE_TYPE = 'BASE TABLE'")
        names = [(_text(s), _text(t)) for s, t in cur.fetchall()]
    tables = {}
    for schema, table in names:
        if in_scope(schema, table):
            definition = read_table_def(conn, schema, table)
            if definition is not None:
                tables[(schema, table)] = definition
    return tables


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def start_tracker(conn: Any, kept: dict[Key, SchemaVersion], start: BinlogPosition,
                  in_scope: Callable[[str, str], bool], record: Record,
                  fresh: bool) -> SchemaTracker:
    """The tracker for a binlog read from ``start``: from the versions ``kept`` at or before
    it, or, on a ``fresh`` incremental-only start (or a job with no history kept), from the
    source's definitions now, which are then kept as the base versions at ``start``."""
    catalog = Catalog(schema_charsets=read_schema_charsets(conn), server_charset=_server_charset(conn))
    if fresh or not kept:
        if not fresh:
            log.warning("schema history: none kept for this job; starting from the source's "
                        "current definitions at %s (rows that do not match them stop the job)",
                        start)
        kept = {key: SchemaVersion(key[0], key[1], start, definition, base=True)
                for key, definition in read_catalog(conn, in_scope).items()}
        if kept:
            record(list(kept.values()))
    catalog.tables = {key: v.definition for key, v in kept.items() if v.definition is not None}
    return SchemaTracker(catalog, kept, in_scope, record)


def _server_charset(conn: Any) -> str:
    with conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.character_set_server")
        return _text(cur.fetchone()[0]).lower()
