"""MySQL's binary JSON (the JSON column type's storage and row-image format) to JSON text.

Written as MySQL prints a JSON value (``{"k": [1, 2.5, null]}``), so the target re-parses the
same document. Opaque scalars keep their value: DECIMAL as its exact number, DATE as
``"2024-01-02"``, TIME, DATETIME and TIMESTAMP as text with six fractional digits (as
``CAST(... AS JSON)`` prints them), other opaque values as MySQL's ``"base64:typeN:..."``.
python-mysql-replication returns ``Decimal``/``datetime`` objects there that JSON cannot
serialize, loses a negative TIME's sign and a TIMESTAMP's value.

Layout (sql/json_binary.h): a type byte, then the value. Objects and arrays: element count and
byte size (2 bytes each when small, 4 when large), then key entries (offset, 2-byte length) for
objects, then value entries (type byte and an offset, or the value itself when it fits),
then keys and values. Strings and opaque data carry a variable-length size (7 bits a byte).
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from typing import Any

from replication.source.rows_numeric import numeric_decoder

_SMALL_OBJECT, _LARGE_OBJECT, _SMALL_ARRAY, _LARGE_ARRAY = 0, 1, 2, 3
_LITERAL, _INT16, _UINT16, _INT32, _UINT32, _INT64, _UINT64 = 4, 5, 6, 7, 8, 9, 10
_DOUBLE, _STRING, _OPAQUE = 11, 12, 15
_LITERALS = {0: "null", 1: "true", 2: "false"}
_SCALARS = {_INT16: struct.Struct("<h"), _UINT16: struct.Struct("<H"), _INT32: struct.Struct("<i"),
            _UINT32: struct.Struct("<I"), _INT64: struct.Struct("<q"), _UINT64: struct.Struct("<Q")}
# Opaque field types (enum_field_types).
_NEWDECIMAL, _DATE, _TIME, _DATETIME, _TIMESTAMP = 246, 10, 11, 12, 7


class _Decimal:
    precision = 0
    decimals = 0
    type = _NEWDECIMAL


def _var_length(data: bytes, pos: int) -> tuple[int, int]:
    length = 0
    for i in range(5):
        byte = data[pos + i]
        length |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return length, pos + i + 1
    raise ValueError("JSON binary: variable length longer than 5 bytes")


def _text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _opaque(data: bytes, pos: int) -> str:
    field_type = data[pos]
    length, pos = _var_length(data, pos + 1)
    body = data[pos:pos + length]
    if field_type == _NEWDECIMAL:
        column = _Decimal()
        column.precision, column.decimals = body[0], body[1]
        decode = numeric_decoder(column)
        if decode is None:
            raise ValueError(f"JSON binary: bad DECIMAL({body[0]},{body[1]})")
        return str(decode(body, 2)[0])
    if field_type in (_DATE, _TIME, _DATETIME, _TIMESTAMP):
        return _text(_temporal(field_type, int.from_bytes(body[:8], "little", signed=True)))
    encoded = base64.b64encode(body).decode()
    return _text(f"base64:type{field_type}:{encoded}")


def _temporal(field_type: int, packed: int) -> str:
    """MySQL's packed temporal (my_time_packed / my_datetime_packed) as JSON prints it."""
    negative, packed = packed < 0, abs(packed)
    micro, whole = packed % (1 << 24), packed >> 24
    if field_type == _TIME:
        hms = whole
        text = f"{hms >> 12:02d}:{hms >> 6 & 63:02d}:{hms & 63:02d}.{micro:06d}"
        return f"-{text}" if negative else text
    ymd, hms = whole >> 17, whole % (1 << 17)
    year_month = ymd >> 5
    date = f"{year_month // 13:04d}-{year_month % 13:02d}-{ymd & 31:02d}"
    if field_type == _DATE:
        return date
    return f"{date} {hms >> 12:02d}:{hms >> 6 & 63:02d}:{hms & 63:02d}.{micro:06d}"


def _double(value: float) -> str:
    """Shortest exact form, exponent as MySQL writes it (``1e300``, ``1.5e-7``)."""
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def _value(kind: int, data: bytes, pos: int) -> str:
    if kind in (_SMALL_OBJECT, _LARGE_OBJECT, _SMALL_ARRAY, _LARGE_ARRAY):
        return _container(data, pos, kind in (_SMALL_OBJECT, _SMALL_ARRAY),
                          kind in (_SMALL_OBJECT, _LARGE_OBJECT))
    if kind == _LITERAL:
        return _LITERALS[data[pos]]
    if kind in _SCALARS:
        return str(_SCALARS[kind].unpack_from(data, pos)[0])
    if kind == _DOUBLE:
        return _double(struct.unpack_from("<d", data, pos)[0])
    if kind == _STRING:
        length, start = _var_length(data, pos)
        return _text(data[start:start + length].decode("utf-8"))
    if kind == _OPAQUE:
        return _opaque(data, pos)
    raise ValueError(f"JSON binary: unknown value type {kind}")


def _inlined(kind: int, small: bool) -> bool:
    return kind in (_LITERAL, _INT16, _UINT16) or (not small and kind in (_INT32, _UINT32))


def _container(data: bytes, start: int, small: bool, is_object: bool) -> str:
    """An object or array whose header starts at ``start``; offsets count from there."""
    size = 2 if small else 4

    def read(at: int) -> int:
        return int.from_bytes(data[at:at + size], "little")

    count = read(start)
    entry = start + 2 * size
    keys: list[str] = []
    if is_object:
        for i in range(count):
            key_entry = entry + i * (size + 2)
            offset = read(key_entry)
            length = int.from_bytes(data[key_entry + size:key_entry + size + 2], "little")
            keys.append(data[start + offset:start + offset + length].decode("utf-8"))
        entry += count * (size + 2)
    values: list[str] = []
    for i in range(count):
        value_entry = entry + i * (1 + size)
        kind = data[value_entry]
        if _inlined(kind, small):
            values.append(_value(kind, data, value_entry + 1))
        else:
            values.append(_value(kind, data, start + read(value_entry + 1)))
    if is_object:
        return "{" + ", ".join(f"{_text(k)}: {v}" for k, v in zip(keys, values, strict=True)) + "}"
    return "[" + ", ".join(values) + "]"


def json_text(document: bytes) -> str:
    """The JSON text of one binary JSON document (an empty one is ``null``, as MySQL reads it)."""
    if not document:
        return "null"
    return _value(document[0], document, 1)


def json_decoder(length_size: int) -> Callable[[bytes, int], tuple[Any, int]]:
    """The row decoder of a JSON column whose values have a ``length_size``-byte length."""
    def decode(body: bytes, pos: int) -> tuple[Any, int]:
        start = pos + length_size
        end = start + int.from_bytes(body[pos:start], "little")
        return json_text(body[start:end]), end
    return decode
