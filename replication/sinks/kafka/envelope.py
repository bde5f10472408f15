"""Kafka messages as dtle 3.x writes them: Kafka Connect JsonConverter ``{schema, payload}``
records with a Debezium-style change envelope, and schema-change records for DDL.

A ``TableEncoder`` is built once per table definition: it renders the key and value schemas to
JSON once and keeps one converter per column, so encoding a row is a list of conversions and
one ``orjson.dumps``. Values arrive as the binlog decoder yields them (see
``docs/subscription.md`` for the representation of each type and what a consumer sees):

- ``value(op, before, after, source, ts_ms)``: ``{"schema": <Envelope>, "payload": {"before",
  "after", "source", "op", "ts_ms"}}``; snapshot rows are ``op="c"`` with ``source.snapshot``;
- ``key(image)``: the key columns of the image (the before-image for updates and deletes); a
  table without a key gets dtle's key: a struct schema with no fields and an empty payload;
- a delete is followed by a tombstone ``(key, None)`` (a keyless table gets none: its one key
  would let compaction remove every row of the table); an update that changes the key is a
  delete of the old key (with its tombstone) and a create of the new one, as Debezium sends it;
- ``ddl_record``: dtle 4.x's HistoryRecord-like value for ``schema-changes.<kafka_topic>``.

Type mapping (Debezium's defaults, where dtle differs it is said):
tinyint, smallint -> int16; smallint unsigned, mediumint, int -> int32; int unsigned, bigint ->
int64; bigint unsigned -> Connect ``Decimal`` with scale 0 (Debezium's "precise" mode: exact,
where dtle's int64 overflows); float -> float32 (float64 for FLOAT(p>23)), double -> float64;
decimal -> Connect ``Decimal`` (big-endian two's-complement unscaled bytes, base64); date ->
``io.debezium.time.Date`` (days); datetime(0-3) -> ``io.debezium.time.Timestamp`` (ms),
datetime(4-6) -> ``io.debezium.time.MicroTimestamp`` (us), both read in ``datetime_zone``
(UTC by default); timestamp -> ``io.debezium.time.ZonedTimestamp`` (UTC ISO-8601 with the
column's fractional digits); time -> ``io.debezium.time.MicroTime``; year ->
``io.debezium.time.Year`` (the year itself); json -> ``io.debezium.data.Json``; enum / set ->
``io.debezium.data.Enum`` / ``EnumSet``; bit(1) -> boolean; bit(n) -> ``io.debezium.data.Bits``
(little-endian bytes); char and text -> string; binary and blob -> bytes (binary(n) padded
with zero bytes to n); geometry -> ``io.debezium.data.geometry.Geometry``. Zero dates are null
(the epoch in a NOT NULL column), as Debezium sends them.
"""

from __future__ import annotations

import base64
import datetime
import re
import time
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Context, Decimal
from typing import Any

import orjson

from replication.codegen import define
from replication.source.schema import ColumnDef, TableDef

CREATE, UPDATE, DELETE = "c", "u", "d"
SOURCE_VERSION = "0.0.1"  # what dtle 3.x writes in source.version

Converter = Callable[[Any], Any]
_EPOCH_DAY = datetime.date(1970, 1, 1).toordinal()
_DAY_US = 86_400_000_000
_WIDE = Context(prec=200)  # rescaling a DECIMAL(65,30) must never round
_b64 = base64.b64encode
_TOPIC_UNSAFE = re.compile(r"[^a-zA-Z0-9._-]")
_ARGUMENTS = re.compile(r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")


# -- the source block -------------------------------------------------------------------------

@dataclass
class Source:
    """The value's ``source`` block: where a change was read. One per source transaction (or
    snapshot chunk); ``row`` is the row's index in its rows event, given per message."""

    name: str  # the job's kafka_topic
    server_id: int  # the source server's server_id
    ts_sec: int  # when the source wrote the event (the snapshot: when the table's read began)
    gtid: str | None  # the transaction's GTID; None in the snapshot
    file: str  # binlog file ("" in the snapshot)
    pos: int  # binlog position (0 in the snapshot)
    row: int = 0
    snapshot: bool = False
    db: str = ""
    table: str = ""
    thread: int | None = None
    query: str | None = None
    _parts: tuple[bytes, bytes] | None = field(default=None, init=False, repr=False, compare=False)

    def parts(self) -> tuple[bytes, bytes]:
        """The block's JSON before and after the row number (rendered once)."""
        if self._parts is None:
            head = orjson.dumps({"version": SOURCE_VERSION, "name": self.name,
                                 "server_id": self.server_id, "ts_sec": self.ts_sec,
                                 "gtid": self.gtid, "file": self.file, "pos": self.pos})
            tail = orjson.dumps({"snapshot": self.snapshot, "thread": self.thread,
                                 "db": self.db, "table": self.table, "query": self.query})
            self._parts = (head[:-1] + b',"row":', b"," + tail[1:])
        return self._parts

    def payload(self, row: int | None = None) -> dict[str, Any]:
        """The block as a dict (for tests and readers)."""
        parts = self.parts()
        return orjson.loads(parts[0] + str(self.row if row is None else row).encode() + parts[1])


def _field(kind: str, name: str, optional: bool = False, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "optional": optional, "field": name, **extra}


SOURCE_SCHEMA: dict[str, Any] = {
    "type": "struct", "optional": False, "name": "io.debezium.connector.mysql.Source",
    "field": "source", "fields": [
        _field("string", "version", True), _field("string", "name"),
        _field("int64", "server_id"), _field("int64", "ts_sec"),
        _field("string", "gtid", True), _field("string", "file"), _field("int64", "pos"),
        _field("int32", "row"), _field("boolean", "snapshot", True, default=False),
        _field("int64", "thread", True), _field("string", "db", True),
        _field("string", "table", True), _field("string", "query", True)]}


# -- values -----------------------------------------------------------------------------------

def unscaled_bytes(unscaled: int) -> str:
    """Base64 of an integer's shortest big-endian two's-complement bytes (Java's
    ``BigInteger.toByteArray``, what Connect's ``Decimal`` holds)."""
    size = (unscaled if unscaled >= 0 else ~unscaled).bit_length() // 8 + 1
    return _b64(unscaled.to_bytes(size, "big", signed=True)).decode()


def _decimal(scale: int) -> Converter:
    def convert(value: Any) -> Any:
        if not isinstance(value, Decimal):
            value = Decimal(value)
        return unscaled_bytes(int(value.scaleb(scale, _WIDE)))
    return convert


def _variable_decimal(value: Any) -> Any:
    """``io.debezium.data.VariableScaleDecimal``, for a decimal whose scale is unknown."""
    if not isinstance(value, Decimal):
        value = Decimal(value)
    exponent = value.as_tuple().exponent
    scale = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return {"scale": scale, "value": unscaled_bytes(int(value.scaleb(scale, _WIDE)))}


def _unsigned_bigint(value: Any) -> Any:
    return unscaled_bytes(int(value))


def _bytes(value: Any) -> Any:
    if isinstance(value, str):  # the decoder gives '' for an empty binary value
        value = value.encode("latin-1")
    return _b64(value).decode()


def _padded(length: int) -> Converter:
    """BINARY(n): the binlog drops trailing zero bytes, the table holds n bytes."""
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            value = value.encode("latin-1")
        if len(value) < length:
            value = value + b"\0" * (length - len(value))
        return _b64(value).decode()
    return convert


def _text(value: Any) -> Any:
    # Text of a character set Python lacks arrives as bytes.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _bool(value: Any) -> Any:
    return bool(int(value, 2) if isinstance(value, str) else value)


def _bits(length: int) -> Converter:
    size = (length + 7) // 8

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            value = int(value, 2)
        elif isinstance(value, bytes):
            value = int.from_bytes(value, "big")
        return _b64(value.to_bytes(size, "little")).decode()
    return convert


def _set(order: tuple[str, ...]) -> Converter:
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            return value
        return ",".join(m for m in order or sorted(value) if m in value)
    return convert


def _zero(nullable: bool, epoch: Any) -> Any:
    return None if nullable else epoch


def _date(nullable: bool) -> Converter:
    def convert(value: Any) -> Any:
        if isinstance(value, str):  # '0000-00-00' or a partly zero date
            try:
                value = datetime.date.fromisoformat(value[:10])
            except ValueError:
                return _zero(nullable, 0)
        return value.toordinal() - _EPOCH_DAY
    return convert


def _parse_datetime(value: str) -> datetime.datetime | None:
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        return None  # a zero or partly zero date


def _epoch_micros(value: datetime.datetime) -> int:
    return ((value.toordinal() - _EPOCH_DAY) * 86_400 + value.hour * 3600 + value.minute * 60
            + value.second) * 1_000_000 + value.microsecond


def _datetime(micros: bool, nullable: bool, zone: datetime.tzinfo | None) -> Converter:
    """DATETIME as ms (``Timestamp``) or us (``MicroTimestamp``) since the epoch, the stored
    wall clock read in ``zone`` (None: UTC)."""
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            parsed = _parse_datetime(value)
            if parsed is None:
                return _zero(nullable, 0)
            value = parsed
        if zone is None:
            us = _epoch_micros(value)
        else:
            # UTC offset of the wall clock in the zone (the earlier one in a repeated hour)
            offset = value.replace(tzinfo=zone).utcoffset() or datetime.timedelta(0)
            us = _epoch_micros(value) - offset // datetime.timedelta(microseconds=1)
        return us if micros else us // 1000
    return convert


def _timestamp(fsp: int, nullable: bool) -> Converter:
    """TIMESTAMP (a naive datetime in UTC) as ``ZonedTimestamp`` text with ``fsp`` digits."""
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            parsed = _parse_datetime(value)
            if parsed is None:
                return _zero(nullable, "1970-01-01T00:00:00Z")
            value = parsed
        return value.isoformat("T", spec)[:width] + "Z"
    # isoformat is C; fractional digits other than 3 or 6 are cut from the microseconds.
    spec = "seconds" if not fsp else "milliseconds" if fsp == 3 else "microseconds"
    width = 19 + (fsp + 1 if fsp else 0)
    return convert


def time_micros(text: str) -> int:
    """``[-]HHH:MM:SS[.ffffff]`` as microseconds; the fraction is read as the digits after the
    point, right-padded (``.5`` is 500000 us; dtle read it as 5)."""
    negative = text.startswith("-")
    hours, minutes, rest = text.lstrip("-").split(":")
    seconds, _, fraction = rest.partition(".")
    micros = ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1_000_000 + int(
        (fraction + "000000")[:6] or 0)
    return -micros if negative else micros


def _time(value: Any) -> Any:
    if isinstance(value, datetime.timedelta):
        return value.days * _DAY_US + value.seconds * 1_000_000 + value.microseconds
    if isinstance(value, datetime.time):
        return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond
    return time_micros(str(value))


def _year(value: Any) -> Any:
    return value.year if isinstance(value, datetime.date) else int(value)


def _geometry(value: Any) -> Any:
    if isinstance(value, str):
        value = value.encode("latin-1")
    srid = int.from_bytes(value[:4], "little") if len(value) >= 4 else 0
    return {"wkb": _b64(value[4:]).decode(), "srid": srid}


def _json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if not isinstance(value, str):  # a parsed document
        return orjson.dumps(value, default=str).decode()
    return value


# -- schema and converter of one column ------------------------------------------------------

_INT_TYPES = {"tinyint": ("int16", "int16"), "smallint": ("int16", "int32"),
              "mediumint": ("int32", "int32"), "int": ("int32", "int64"),
              "integer": ("int32", "int64"), "bigint": ("int64", None)}
_TEXT = frozenset({"char", "varchar", "tinytext", "text", "mediumtext", "longtext"})
_BINARY = frozenset({"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
                     "inet4", "inet6", "uuid"})
_GEOMETRY = frozenset({"geometry", "point", "linestring", "polygon", "multipoint",
                       "multilinestring", "multipolygon", "geometrycollection"})


def _arguments(column_type: str) -> tuple[int | None, int | None]:
    """The ``(m, d)`` of a type such as ``decimal(65,30)``; None where absent."""
    found = _ARGUMENTS.search(column_type)
    if not found:
        return None, None
    return int(found.group(1)), (int(found.group(2)) if found.group(2) is not None else None)


def _logical(kind: str, column: ColumnDef, name: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "optional": column.nullable, "name": name, "version": 1,
            "field": column.name, **extra}


def column_mapping(column: ColumnDef, zone: datetime.tzinfo | None = None
                   ) -> tuple[dict[str, Any], Converter | None]:
    """The Connect field schema of a column and the converter of its non-NULL values (None
    when the decoder's value is already what the message holds)."""
    kind = column.data_type
    nullable = column.nullable
    m, d = _arguments(column.column_type)
    plain = {"type": "", "optional": nullable, "field": column.name}
    if kind in _INT_TYPES:
        signed, unsigned = _INT_TYPES[kind]
        if column.unsigned and unsigned is None:  # bigint unsigned: exact, as Decimal(20,0)
            return _logical("bytes", column, "org.apache.kafka.connect.data.Decimal",
                            parameters={"scale": "0", "connect.decimal.precision": "20"}
                            ), _unsigned_bigint
        return {**plain, "type": unsigned if column.unsigned else signed}, None
    if kind in ("decimal", "numeric"):
        if m is None and column.column_type:
            m, d = 10, 0  # DECIMAL without arguments is DECIMAL(10,0)
        if m is None:
            return _logical("struct", column, "io.debezium.data.VariableScaleDecimal", fields=[
                _field("int32", "scale"), _field("bytes", "value")]), _variable_decimal
        scale = d or 0
        return _logical("bytes", column, "org.apache.kafka.connect.data.Decimal", parameters={
            "scale": str(scale), "connect.decimal.precision": str(m)}), _decimal(scale)
    if kind == "float":
        return {**plain, "type": "float64" if m is not None and d is None and m > 23
                else "float32"}, None
    if kind in ("double", "real", "double precision"):
        return {**plain, "type": "float64"}, None
    if kind in _TEXT:
        return {**plain, "type": "string"}, _text
    if kind in _BINARY:
        if kind == "binary" and column.column_type:
            return {**plain, "type": "bytes"}, _padded(m if m is not None else 1)
        return {**plain, "type": "bytes"}, _bytes
    if kind == "enum":
        return _logical("string", column, "io.debezium.data.Enum",
                        parameters={"allowed": ",".join(column.values)}), _text
    if kind == "set":
        return _logical("string", column, "io.debezium.data.EnumSet",
                        parameters={"allowed": ",".join(column.values)}), _set(column.values)
    if kind == "bit":
        length = m if m is not None else (1 if column.column_type else 64)
        if length == 1:
            return {**plain, "type": "boolean"}, _bool
        return _logical("bytes", column, "io.debezium.data.Bits",
                        parameters={"length": str(length)}), _bits(length)
    if kind == "json":
        return _logical("string", column, "io.debezium.data.Json"), _json
    if kind == "date":
        return _logical("int32", column, "io.debezium.time.Date"), _date(nullable)
    if kind == "datetime":
        fsp = m if m is not None else (0 if column.column_type else 6)
        micros = fsp > 3
        name = "io.debezium.time.MicroTimestamp" if micros else "io.debezium.time.Timestamp"
        return _logical("int64", column, name), _datetime(micros, nullable, zone)
    if kind == "timestamp":
        fsp = m if m is not None else (0 if column.column_type else 6)
        return _logical("string", column, "io.debezium.time.ZonedTimestamp"), _timestamp(
            fsp, nullable)
    if kind == "time":
        return _logical("int64", column, "io.debezium.time.MicroTime"), _time
    if kind == "year":
        return _logical("int32", column, "io.debezium.time.Year"), _year
    if kind in _GEOMETRY:
        return _logical("struct", column, "io.debezium.data.geometry.Geometry", fields=[
            _field("bytes", "wkb"), _field("int32", "srid", True)]), _geometry
    # A type this module does not know (a newer server's): its value as text.
    return {**plain, "type": "string"}, _fallback


def _fallback(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return _b64(bytes(value)).decode()
    return value if isinstance(value, (str, int, float, bool)) else str(value)


# -- one table --------------------------------------------------------------------------------

def topic_for(topic_prefix: str, db: str, table: str, with_schema_table: bool = True) -> str:
    """``<kafka_topic>.<db>.<table>`` (or ``<kafka_topic>``); characters Kafka does not allow
    in a topic name become ``_``, as Debezium does."""
    if not with_schema_table:
        return topic_prefix
    return f"{topic_prefix}.{_TOPIC_UNSAFE.sub('_', db)}.{_TOPIC_UNSAFE.sub('_', table)}"


def schema_change_topic(topic_prefix: str) -> str:
    return f"schema-changes.{topic_prefix}"


def _zone(name: str) -> datetime.tzinfo | None:
    if name.upper() in ("UTC", "Z", "+00:00", ""):
        return None
    if name[:1] in "+-":
        sign = -1 if name[0] == "-" else 1
        hours, _, minutes = name[1:].partition(":")
        return datetime.timezone(sign * datetime.timedelta(hours=int(hours),
                                                           minutes=int(minutes or 0)))
    return zoneinfo.ZoneInfo(name)


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def _compile_image(names: Sequence[str], converters: Sequence[Converter | None],
                   indexes: Sequence[int]) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """A function making the payload object of the columns at ``indexes`` from an image,
    written out once per table definition: one dict display with each column's conversion
    inline, instead of a loop, a copy and a zip per row (the encoder's largest cost).
    Column names enter the code as ``repr`` literals; converters by position."""
    parts = []
    for i in indexes:
        name = repr(names[i])
        if converters[i] is None:
            parts.append(f"{name}: v[{i}]")
        else:
            parts.append(f"{name}: None if v[{i}] is None else C{i}(v[{i}])")
    scope: dict[str, Any] = {f"C{i}": converters[i] for i in indexes if converters[i] is not None}
    function: Callable[[Sequence[Any]], dict[str, Any]] = define(
        ["def image(v):", "    return {" + ", ".join(parts) + "}"], "image", scope, "<kafka image>")
    return function


class TableEncoder:
    """Keys and values of one table definition's messages. Images are lists of values in the
    definition's column order (as ``RowEvent.rows`` and typed snapshot rows carry them)."""

    def __init__(self, topic_prefix: str, definition: TableDef, key_columns: Sequence[str],
                 datetime_zone: str = "UTC") -> None:
        self.definition = definition
        self.topic_prefix = topic_prefix
        ident = f"{topic_prefix}.{definition.schema}.{definition.table}"
        zone = _zone(datetime_zone)
        names = [c.name for c in definition.columns]
        lowered = {n.lower(): i for i, n in enumerate(names)}
        missing = [k for k in key_columns if k.lower() not in lowered]
        if missing:
            raise ValueError(f"{definition.schema}.{definition.table}: key columns {missing} "
                             "are not among its columns")
        self.names = names
        schemas: list[dict[str, Any]] = []
        converters: list[Converter | None] = []
        for column in definition.columns:
            schema, converter = column_mapping(column, zone)
            schemas.append(schema)
            converters.append(converter)
        self._converters = converters
        self._converted = [(i, c) for i, c in enumerate(converters) if c is not None]
        self.key_indexes = [lowered[k.lower()] for k in key_columns]
        self.keyless = not self.key_indexes
        self.key_names = [names[i] for i in self.key_indexes]
        key_fields = [{**schemas[i], "optional": False} for i in self.key_indexes]
        self.key_schema = {"type": "struct", "optional": False, "name": f"{ident}.Key",
                           "fields": key_fields}
        row_schema = {"type": "struct", "optional": True, "name": f"{ident}.Value",
                      "fields": schemas}
        self.value_schema = {
            "type": "struct", "optional": False, "name": f"{ident}.Envelope", "version": 1,
            "fields": [{**row_schema, "field": "before"}, {**row_schema, "field": "after"},
                       SOURCE_SCHEMA, _field("string", "op"),
                       _field("int64", "ts_ms", True)]}
        self._key_head = b'{"schema":' + _dumps(self.key_schema) + b',"payload":'
        self._value_head = b'{"schema":' + _dumps(self.value_schema) + b',"payload":'
        self._empty_key = self._key_head + b"{}}"
        self._row = _compile_image(names, converters, range(len(names)))
        self._key = _compile_image(names, converters, self.key_indexes)

    # payloads
    def row(self, image: Sequence[Any] | None) -> dict[str, Any] | None:
        """One image as the payload's ``before``/``after`` object."""
        return None if image is None else self._row(image)

    def key_payload(self, image: Sequence[Any]) -> dict[str, Any]:
        return self._key(image)

    # messages
    def key(self, image: Sequence[Any]) -> bytes:
        if self.keyless:
            return self._empty_key
        return self._key_head + _dumps(self._key(image)) + b"}"

    def value(self, op: str, before: Sequence[Any] | None, after: Sequence[Any] | None,
              source: Source, ts_ms: int | None = None, row: int | None = None) -> bytes:
        head, tail = source.parts()
        rows = _dumps({"before": None if before is None else self._row(before),
                       "after": None if after is None else self._row(after)})
        return b"".join((
            self._value_head, rows[:-1], b',"source":', head,
            str(source.row if row is None else row).encode(), tail, b',"op":"', op.encode(),
            b'","ts_ms":', str(now_ms() if ts_ms is None else ts_ms).encode(), b"}}"))

    def insert(self, after: Sequence[Any], source: Source, ts_ms: int | None = None,
               row: int | None = None) -> list[tuple[bytes, bytes | None]]:
        return [(self.key(after), self.value(CREATE, None, after, source, ts_ms, row))]

    def update(self, before: Sequence[Any], after: Sequence[Any], source: Source,
               ts_ms: int | None = None, row: int | None = None
               ) -> list[tuple[bytes, bytes | None]]:
        """One ``u`` message keyed by the before-image's key. An update that changes the key
        is, as Debezium sends it, a ``d`` of the old key, its tombstone, and a ``c`` of the
        new key: so each key's messages stay in its own partition, in order, and compaction
        keeps no row under a key that no longer exists."""
        if not self.keyless and any(before[i] != after[i] for i in self.key_indexes):
            return [*self.delete(before, source, ts_ms, row),
                    *self.insert(after, source, ts_ms, row)]
        return [(self.key(before), self.value(UPDATE, before, after, source, ts_ms, row))]

    def delete(self, before: Sequence[Any], source: Source, ts_ms: int | None = None,
               row: int | None = None) -> list[tuple[bytes, bytes | None]]:
        """The ``d`` message, then the tombstone (the key with a null value) that lets log
        compaction drop the row; a keyless table gets no tombstone."""
        key = self.key(before)
        messages: list[tuple[bytes, bytes | None]] = [
            (key, self.value(DELETE, before, None, source, ts_ms, row))]
        if not self.keyless:
            messages.append((key, None))
        return messages


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# -- DDL --------------------------------------------------------------------------------------

DDL_KEY = b"null"  # dtle's: one constant key keeps every DDL in one partition, in order


def ddl_record(topic_prefix: str, database: str, ddl: str, *, ts_sec: int, file: str = "",
               pos: int = 0, gtids: str = "", snapshot: bool = False) -> tuple[bytes, bytes]:
    """A schema change for ``schema-changes.<kafka_topic>``, shaped like dtle 4.x's (and
    Debezium's) HistoryRecord: the statement, its database, and the binlog position after
    it (``gtids``: the executed set including it); snapshot records (the CREATE statements
    the full copy starts from) carry ``position.snapshot``."""
    position: dict[str, Any] = {"ts_sec": ts_sec, "file": file, "pos": pos, "gtids": gtids}
    if snapshot:
        position["snapshot"] = True
    return DDL_KEY, _dumps({"source": {"server": topic_prefix}, "position": position,
                            "databaseName": database, "ddl": ddl, "tableChanges": []})
