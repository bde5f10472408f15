"""A fast decoder for the row images of the common column types.

python-mysql-replication decodes each value through several method calls and dictionary
look-ups per column and row: most of the src's time. This module decodes the rows event's body
straight into positional lists, with the same results as the library (same signedness, same
charset decoding, ``None`` for NULL). Integers, FLOAT, DOUBLE and VARCHAR are decoded here;
DECIMAL and BIT in ``binlog_rows_numeric``, the temporal types in ``binlog_rows_temporal``. Any
other type, a partial row image or an unknown charset makes ``plan_for`` answer None, and the
caller lets the library decode.
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Sequence
from typing import Any

from pymysql.charset import charset_by_name

from replication.binlog_rows_numeric import numeric_decoder
from replication.binlog_rows_temporal import temporal_decoder

# MySQL protocol column type codes (include/mysql_com.h enum_field_types).
_TINY, _SHORT, _LONG, _FLOAT, _DOUBLE, _LONGLONG, _INT24, _VARCHAR = 1, 2, 3, 4, 5, 8, 9, 15

_FIXED = {
    (_TINY, False): struct.Struct("<b"), (_TINY, True): struct.Struct("<B"),
    (_SHORT, False): struct.Struct("<h"), (_SHORT, True): struct.Struct("<H"),
    (_LONG, False): struct.Struct("<i"), (_LONG, True): struct.Struct("<I"),
    (_LONGLONG, False): struct.Struct("<q"), (_LONGLONG, True): struct.Struct("<Q"),
    (_FLOAT, False): struct.Struct("<f"), (_FLOAT, True): struct.Struct("<f"),
    (_DOUBLE, False): struct.Struct("<d"), (_DOUBLE, True): struct.Struct("<d"),
}

# One step per column: (kind, a struct, encoding, decoder or signedness); kinds below.
_K_FIXED, _K_VAR1, _K_VAR2, _K_CALL, _K_INT24 = 0, 1, 2, 3, 4
Plan = tuple[tuple[int, Any], ...]


def _encoding(charset_name: str | None) -> str | None:
    """The Python codec the library would decode this column with, if it is a real one."""
    if charset_name is None:
        return "utf-8"
    charset = charset_by_name(charset_name)
    encoding = charset.encoding if charset else charset_name
    try:
        codecs.lookup(encoding)
    except LookupError:
        return None
    return encoding


def _step(column: Any) -> tuple[int, Any] | None:
    """The decoding step of one column, or None when the library must decode it."""
    kind = column.type
    if (kind, bool(column.unsigned)) in _FIXED:
        return _K_FIXED, _FIXED[(kind, bool(column.unsigned))]
    if kind == _INT24:
        return _K_INT24, bool(column.unsigned)
    if kind == _VARCHAR:
        encoding = _encoding(column.character_set_name)
        if encoding is None:
            return None  # the library hands such columns over as bytes: let it
        return (_K_VAR2 if column.max_length > 255 else _K_VAR1), encoding
    decoder = temporal_decoder(column) or numeric_decoder(column)
    return (_K_CALL, decoder) if decoder is not None else None


def plan_for(columns: Sequence[Any]) -> Plan | None:
    """Decoding steps for a table map's columns, or None when one needs the library."""
    steps: list[tuple[int, Any]] = []
    for column in columns:
        step = _step(column)
        if step is None:
            return None
        steps.append(step)
    return tuple(steps)


def decode_rows(body: bytes, plan: Plan, images_per_row: int) -> list[Any]:
    """Every row of a rows event body (after its column bitmaps): an image list per row, or
    ``[before, after]`` when ``images_per_row`` is 2. Rows must be full images."""
    rows: list[Any] = []
    pos, end = 0, len(body)
    null_bytes = (len(plan) + 7) // 8
    while pos < end:
        if images_per_row == 1:
            image, pos = _image(body, pos, plan, null_bytes)
            rows.append(image)
        else:
            before, pos = _image(body, pos, plan, null_bytes)
            after, pos = _image(body, pos, plan, null_bytes)
            rows.append([before, after])
    return rows


def _image(body: bytes, pos: int, plan: Plan, null_bytes: int) -> tuple[list[Any], int]:
    nulls = int.from_bytes(body[pos:pos + null_bytes], "little")
    pos += null_bytes
    values: list[Any] = []
    append = values.append
    for i, (kind, arg) in enumerate(plan):
        if nulls >> i & 1:
            append(None)
        elif kind == _K_FIXED:
            append(arg.unpack_from(body, pos)[0])
            pos += arg.size
        elif kind == _K_VAR1:
            size = body[pos]
            append(body[pos + 1:pos + 1 + size].decode(arg))
            pos += 1 + size
        elif kind == _K_VAR2:
            size = body[pos] | body[pos + 1] << 8
            append(body[pos + 2:pos + 2 + size].decode(arg))
            pos += 2 + size
        elif kind == _K_CALL:
            value, pos = arg(body, pos)
            append(value)
        else:
            append(int.from_bytes(body[pos:pos + 3], "little", signed=not arg))
            pos += 3
    if pos > len(body):
        raise ValueError("rows event body ends inside a row")
    return values, pos
