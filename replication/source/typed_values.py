"""Typed values for the full copy of sinks that need values, not SQL text (Kafka).

The snapshot SELECT asks the server for each column in a form that converts without loss, and
this module turns it into exactly the Python value the binlog decoder (``rows``,
``rows_temporal``, ``rows_numeric``) yields for the same stored value, so a consumer cannot tell
a snapshot row from a binlog row by its values:

- integers and DECIMAL: ``int`` / ``Decimal`` with the server's digits; DOUBLE ``float``;
  FLOAT read as DOUBLE (the exact widened single-precision value, as unpacking the binlog's
  4 bytes gives); BIT as its number (``col + 0``);
- text (CHAR, VARCHAR, TEXT, ENUM, SET, JSON): the stored bytes (``CAST AS BINARY``), decoded
  with the Python codec of the column's character set, as the binlog decoder does; bytes when
  Python lacks the codec; binary strings as bytes, the empty one as ``''`` (the decoder's quirk);
- DATE, DATETIME, TIMESTAMP (session time zone +00:00: naive UTC), TIME, YEAR: the server's
  text parsed here; zero and partly zero dates stay text, the zero TIMESTAMP is
  ``'0000-00-00 00:00:00'``, YEAR 0000 is 0, TIME a signed ``timedelta``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any

from replication.mysql import quote_ident
from replication.source.rows import python_codec
from replication.source.values import ColumnInfo

Convert = Callable[[Any], Any]
_TEMPORAL = frozenset({"date", "datetime", "timestamp", "time", "year"})


def _same(value: Any) -> Any:
    return value


def _raw(value: Any) -> Any:
    return bytes(value) if value else ""


def _decoder(encoding: str) -> Convert:
    def convert(value: Any) -> Any:
        return bytes(value).decode(encoding)
    return convert


def _date(text: Any) -> Any:
    text = _str(text)
    year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
    if not (year and month and day):
        return text[:10]
    return datetime.date(year, month, day)


def _split_datetime(text: str) -> tuple[tuple[int, int, int, int, int, int], int]:
    parts = (int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]),
             int(text[14:16]), int(text[17:19]))
    fraction = text[20:26]
    return parts, int(fraction.ljust(6, "0")) if fraction else 0


def _datetime(text: Any) -> Any:
    text = _str(text)
    parts, micro = _split_datetime(text)
    try:
        return datetime.datetime(*parts, micro)
    except ValueError:  # a zero or partly zero date: as text, as the binlog decoder gives it
        return f"{text[:19]}.{micro:06d}" if micro > 0 else text[:19]


def _timestamp(text: Any) -> Any:
    text = _str(text)
    parts, micro = _split_datetime(text)
    if not any(parts) or parts[0] == 0:
        return "0000-00-00 00:00:00"
    return datetime.datetime(*parts, micro)


def _time(text: Any) -> Any:
    text = _str(text)
    negative = text.startswith("-")
    hms, _, fraction = text.lstrip("-").partition(".")
    hours, minutes, seconds = (int(p) for p in hms.split(":"))
    value = datetime.timedelta(hours=hours, minutes=minutes, seconds=seconds,
                               microseconds=int(fraction.ljust(6, "0")) if fraction else 0)
    return -value if negative else value


def _year(text: Any) -> Any:
    return int(_str(text))


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, (bytes, bytearray)) else str(value)


_TEMPORAL_CONVERT: dict[str, Convert] = {
    "date": _date, "datetime": _datetime, "timestamp": _timestamp, "time": _time, "year": _year,
}


def column_sql(column: ColumnInfo) -> str:
    """The select expression of one column for ``converter``."""
    col = quote_ident(column.name)
    kind = column.data_type
    if kind == "float":
        return f"CAST({col} AS DOUBLE)"
    if kind == "bit":
        return f"{col} + 0"
    if kind in _TEMPORAL:
        return f"CAST({col} AS CHAR)"
    if column.is_binary_string or kind in ("tinyint", "smallint", "mediumint", "int", "integer",
                                           "bigint", "decimal", "numeric", "double", "real"):
        return col
    return f"CAST({col} AS BINARY)"


def converter(column: ColumnInfo) -> Convert:
    """Turns what ``column_sql`` selected (as pymysql returns it) into the binlog's value."""
    kind = column.data_type
    if kind in _TEMPORAL:
        return _TEMPORAL_CONVERT[kind]
    if column.is_binary_string:
        return _raw
    if kind in ("tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal",
                "numeric", "double", "real", "float", "bit"):
        return _same
    encoding = python_codec(column.charset)
    return _raw if encoding is None else _decoder(encoding)


def select_list(columns: Sequence[ColumnInfo]) -> str:
    return ", ".join(column_sql(c) for c in columns)


class RowConverter:
    """Converts fetched rows of ``columns`` into positional images."""

    def __init__(self, columns: Sequence[ColumnInfo]) -> None:
        self._convert = [converter(c) for c in columns]

    def __call__(self, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
        convert = self._convert
        return [[None if v is None else f(v) for f, v in zip(convert, row, strict=True)]
                for row in rows]
