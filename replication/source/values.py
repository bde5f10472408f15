"""Exact value transfer for the full copy: the source server renders each row as SQL literals.

The snapshot SELECT does not fetch typed values and convert them in Python (lossy for FLOAT,
zero dates and non-UTF-8 text, and slow): it asks the source to print each row as the text of a
``VALUES`` tuple, e.g. ``(1,'a\\'b',_gbk X'D6D0',X'00FF',NULL)``. The target parses exactly what the
source printed, so every type round-trips as the server itself represents it:

- integers, DECIMAL, DOUBLE: the server's own text (DOUBLE prints the shortest exact form);
  FLOAT is widened to DOUBLE first, because FLOAT's text keeps only 6 digits;
- dates, times, TIMESTAMP (session time zone +00:00 on both sides), YEAR: quoted text, so
  ``'0000-00-00'``, ``'-838:59:59.000000'`` and YEAR ``'0000'`` come back as they were;
- UTF-8 text (utf8mb3, utf8mb4, ascii), ENUM, SET, JSON: ``QUOTE()`` of the UTF-8 text;
- any other character set (latin1, gbk, ...): hex of the stored bytes with the column's charset
  introducer (``_gbk X'..'``), so no conversion can touch them;
- binary strings, BLOB, GEOMETRY: ``X'..'`` hex of the bytes; BIT: its unsigned number.

Key columns are rendered a second way (``key_literal_sql``): strings as ``_charset X'..'`` without
any collation, so a keyset comparison on the source uses the column's own collation, and two keys
are equal exactly when their rendered bytes are equal.
"""

from __future__ import annotations

from dataclasses import dataclass

from replication.mysql import quote_ident

# Every piece of a rendered row is forced to one collation, so CONCAT never meets an "illegal mix".
_ROW_COLLATION = "utf8mb4_bin"
_UTF8_CHARSETS = frozenset({"utf8mb4", "utf8mb3", "utf8", "ascii"})
_NUMERIC = frozenset({
    "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric",
    "double", "real", "double precision",
})
_TEMPORAL = frozenset({"date", "datetime", "timestamp", "time", "year"})
_BINARY = frozenset({
    "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
    "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
    "multipolygon", "geometrycollection",
})


@dataclass(frozen=True)
class ColumnInfo:
    """What the full copy needs to know of one source column."""

    name: str
    data_type: str  # information_schema.COLUMNS.DATA_TYPE, lower case
    charset: str | None = None  # CHARACTER_SET_NAME; None for non-string types
    nullable: bool = True

    @property
    def is_binary_string(self) -> bool:
        return self.data_type in _BINARY or (self.charset == "binary")


def _text_literal(col: str, charset: str | None) -> str:
    if charset in _UTF8_CHARSETS or charset is None:
        return f"QUOTE(CONVERT({col} USING utf8mb4)) COLLATE {_ROW_COLLATION}"
    return f"IFNULL(CONCAT('_{charset} X''', HEX({col}), ''''), 'NULL')"


def literal_sql(column: ColumnInfo) -> str:
    """A SQL expression printing ``column`` as a SQL literal (``NULL`` for NULL)."""
    col = quote_ident(column.name)
    kind = column.data_type
    if kind in _NUMERIC:
        return f"IFNULL({col}, 'NULL')"
    if kind == "float":
        return f"IFNULL(CAST({col} AS DOUBLE), 'NULL')"
    if kind == "bit":
        return f"IFNULL({col} + 0, 'NULL')"
    if kind in _TEMPORAL:
        return f"QUOTE({col})"
    if column.is_binary_string:
        return f"IFNULL(CONCAT('X''', HEX({col}), ''''), 'NULL')"
    return _text_literal(col, column.charset)


def key_literal_sql(column: ColumnInfo) -> str:
    """Like ``literal_sql`` but collation-neutral, for keyset comparisons and key equality."""
    kind = column.data_type
    if kind in _NUMERIC or kind in ("float", "bit") or kind in _TEMPORAL:
        return literal_sql(column)
    col = quote_ident(column.name)
    if column.is_binary_string:
        return f"IFNULL(CONCAT('X''', HEX({col}), ''''), 'NULL')"
    charset = column.charset or "utf8mb4"
    return f"IFNULL(CONCAT('_{charset} X''', HEX({col}), ''''), 'NULL')"


def row_sql(columns: tuple[ColumnInfo, ...]) -> str:
    """One expression printing a whole row as ``(v1,v2,...)``."""
    parts = ", ".join(literal_sql(c) for c in columns)
    return f"CONCAT('(', CONCAT_WS(',', {parts}), ')')"


def key_sql(columns: tuple[ColumnInfo, ...]) -> str:
    """One expression printing the key of a row as ``v1,v2``; compare it as bytes."""
    return "CONCAT_WS(',', " + ", ".join(key_literal_sql(c) for c in columns) + ")"


def split_key(key: bytes, width: int) -> list[bytes]:
    """The rendered literals of a key made by ``key_sql``, one per column.

    Literals are numbers, quoted temporal text or hex, none of which can hold a comma, so
    splitting on commas is exact.
    """
    parts = key.split(b",")
    if len(parts) != width:
        raise ValueError(f"key has {len(parts)} parts, expected {width}")
    return parts


def key_range_condition(key_columns: tuple[str, ...], literals: list[bytes],
                        after: bool, inclusive: bool = False) -> bytes:
    """``WHERE`` text selecting rows whose key sorts after (or up to) the given key.

    MariaDB does not use an index for a row comparison ``(a,b) > (x,y)``, so it is spelled out
    index-friendly: ``a >= x AND (a > x OR (a = x AND b > y))``.
    """
    cols = [quote_ident(c).encode() for c in key_columns]
    strict, loose = (b" > ", b" >= ") if after else (b" < ", b" <= ")
    expr = cols[-1] + (loose if inclusive else strict) + literals[-1]
    for col, lit in zip(reversed(cols[:-1]), reversed(literals[:-1]), strict=True):
        expr = col + strict + lit + b" OR (" + col + b" = " + lit + b" AND (" + expr + b"))"
    return cols[0] + loose + literals[0] + b" AND (" + expr + b")"


def after_key_condition(key_columns: tuple[str, ...], literals: list[bytes]) -> bytes:
    """Rows whose key sorts strictly after the given key."""
    return key_range_condition(key_columns, literals, after=True)


def up_to_key_condition(key_columns: tuple[str, ...], literals: list[bytes]) -> bytes:
    """Rows whose key sorts before or equal to the given key."""
    return key_range_condition(key_columns, literals, after=False, inclusive=True)


# -- tab-separated rows for LOAD DATA ---------------------------------------------------------
# The target loads these with LOAD DATA's default format (fields end with a tab, rows with a
# newline, backslash escapes, ``\N`` for NULL) and CHARACTER SET binary: the bytes of a string go
# into the column unconverted, exactly as the source stores them in the column's own charset.
# Every special byte string is a hex literal, so no sql_mode can change how it is read.
_NULL_FIELD = "X'5C4E'"  # \N
# Types whose bytes LOAD DATA stores back exactly (BIT: its stored bytes, which a BIT column
# takes as the number's big-endian bytes); a table with any other keeps the VALUES form, whose
# literals the server parses with the column's type in view: spatial types, and MySQL's JSON
# type, which takes no binary string (MariaDB's JSON is LONGTEXT and travels as such).
_TSV_TEXT = frozenset({
    "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set",
    "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit",
})


def tsv_capable(columns: tuple[ColumnInfo, ...]) -> bool:
    """True when every column can travel as a LOAD DATA field."""
    return bool(columns) and all(
        c.data_type in _NUMERIC or c.data_type in _TEMPORAL or c.data_type == "float"
        or c.data_type in _TSV_TEXT for c in columns)


# Binary and very long strings travel as hex, which the target turns back into the same bytes
# (UNHEX): escaping with REPLACE costs the source time that grows with the string's length times
# the number of bytes it escapes, which binary data is full of. Text up to TEXT's 64 KB is
# escaped: loading through UNHEX costs the target, the copy's usual limit, more per row.
_TSV_HEX = frozenset({
    "mediumtext", "longtext",
    "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
})


def tsv_hex(column: ColumnInfo) -> bool:
    """True when ``column`` travels as the hex of its bytes (the dest loads it through UNHEX)."""
    return column.data_type in _TSV_HEX


def tsv_field_sql(column: ColumnInfo) -> str:
    """A SQL expression printing ``column`` as one LOAD DATA field (binary string)."""
    col = quote_ident(column.name)
    kind = column.data_type
    if kind in _NUMERIC or kind in _TEMPORAL:
        return f"IFNULL({col}, {_NULL_FIELD})"
    if kind == "float":
        return f"IFNULL(CAST({col} AS DOUBLE), {_NULL_FIELD})"
    if tsv_hex(column):
        return f"IFNULL(HEX({col}), {_NULL_FIELD})"
    # Backslash first, then the two terminators.
    raw = f"CAST({col} AS BINARY)"
    escaped = f"REPLACE(REPLACE(REPLACE({raw}, X'5C', X'5C5C'), X'09', X'5C74'), X'0A', X'5C6E')"
    return f"IFNULL({escaped}, {_NULL_FIELD})"


def tsv_row_sql(columns: tuple[ColumnInfo, ...]) -> str:
    """One expression printing a whole row as a LOAD DATA line, newline included."""
    return f"CONCAT(CONCAT_WS(X'09', {', '.join(tsv_field_sql(c) for c in columns)}), X'0A')"


# -- wide rows: strings escaped here ------------------------------------------------------------
# Types whose stored bytes a wide row sends raw (``CAST(col AS BINARY)``), to be escaped by
# ``tsv_escape``: the source then only reads them, and they travel and load at their own length
# instead of as hex through UNHEX or the source's REPLACE, whose cost grows with each value's
# length times its escapes. ENUM, SET and BIT are short and keep ``tsv_field_sql``.
_TSV_RAW = frozenset({
    "char", "varchar", "tinytext", "text", "mediumtext", "longtext",
    "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
})


def tsv_raw(column: ColumnInfo) -> bool:
    """True when a wide row's ``column`` is fetched as its stored bytes and escaped by
    ``tsv_escape``."""
    return column.data_type in _TSV_RAW


def tsv_wide_select(columns: tuple[ColumnInfo, ...]) -> str:
    """The select list of a wide row: one binary string per column, raw bytes for the columns
    of ``tsv_raw`` (NULL as NULL), the LOAD DATA field for the others."""
    return ", ".join(f"CAST({quote_ident(c.name)} AS BINARY)" if tsv_raw(c)
                     else f"CAST({tsv_field_sql(c)} AS BINARY)" for c in columns)


def tsv_escape(value: bytes | None) -> bytes:
    """One raw value as a LOAD DATA field: ``\\N`` for NULL, backslash, tab and newline escaped
    (backslash first), as ``tsv_field_sql`` does on the source."""
    if value is None:
        return b"\\N"
    return value.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n")


def tsv_lines(rows: list[tuple[bytes | None, ...]], raw: tuple[bool, ...]) -> bytes:
    """Rows fetched with ``tsv_wide_select`` (``raw``: which fields to escape) as LOAD DATA
    lines, each ending with a newline."""
    lines = [b"\t".join([tsv_escape(v) if escape else v  # type: ignore[misc]
                         for v, escape in zip(row, raw, strict=True)]) for row in rows]
    lines.append(b"")
    return b"\n".join(lines)
