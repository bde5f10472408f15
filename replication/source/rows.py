"""A fast decoder for the row images of the common column types.

python-mysql-replication decodes each value through several method calls and dictionary
look-ups per column and row: most of the src's time. This module decodes the rows event's body
straight into positional lists, with the same results as the library (same signedness, same
charset decoding, ``bytes`` where the library cannot decode, ``None`` for NULL). Integers,
FLOAT, DOUBLE and the string types are decoded here; DECIMAL and BIT in
``rows_numeric``, the temporal types in ``rows_temporal``, MySQL's binary JSON in
``json_binary``. Any other type (GEOMETRY, the pre-5.6 temporal formats), ENUM or SET values
the table map does not carry, or a partial row image make ``plan_for`` answer None, and the
caller lets the library decode.
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Callable, Sequence
from typing import Any

from pymysql.charset import charset_by_name

from replication.codegen import define
from replication.source.json_binary import json_decoder
from replication.source.rows_numeric import numeric_decoder
from replication.source.rows_temporal import Decoder, temporal_decoder

# MySQL protocol column type codes (include/mysql_com.h enum_field_types).
_TINY, _SHORT, _LONG, _FLOAT, _DOUBLE, _LONGLONG, _INT24, _VARCHAR = 1, 2, 3, 4, 5, 8, 9, 15
_JSON, _ENUM, _SET, _BLOB, _STRING = 245, 247, 248, 252, 254

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


def python_codec(charset_name: str | None) -> str | None:
    """The Python codec the library decodes this column's text with; None when it has none
    (``binary`` and the charsets Python lacks), where the library hands over the bytes."""
    if charset_name is None:
        return "utf-8"
    charset = charset_by_name(charset_name)
    encoding = charset.encoding if charset else charset_name
    try:
        codecs.lookup(encoding)
    except LookupError:
        return None
    return encoding


def _raw(length_size: int) -> Decoder:
    """Bytes after a little-endian length of ``length_size`` bytes (BINARY, VARBINARY, BLOB)."""
    def decode(body: bytes, pos: int) -> tuple[Any, int]:
        start = pos + length_size
        end = start + int.from_bytes(body[pos:start], "little")
        # Python decodes b'' to '' without looking the codec up, so the library gives ''.
        return body[start:end] if end > start else "", end
    return decode


def _text(length_size: int, encoding: str) -> Decoder:
    """Text after a little-endian length of 3 or 4 bytes (MEDIUMTEXT, LONGTEXT)."""
    def decode(body: bytes, pos: int) -> tuple[Any, int]:
        start = pos + length_size
        end = start + int.from_bytes(body[pos:start], "little")
        return body[start:end].decode(encoding), end
    return decode


def _enum(values: list[str], size: int) -> Decoder:
    # The table map's values start with '' for the index 0 of an invalid value, as the
    # library reads them.
    def decode(body: bytes, pos: int) -> tuple[Any, int]:
        return values[int.from_bytes(body[pos:pos + size], "little")], pos + size
    return decode


def _set(values: list[str], size: int) -> Decoder:
    # As the server writes a SET: members in definition order, comma-separated; the empty set
    # is '' (the library's set-or-None loses it to NULL and cannot be written back as is).
    def decode(body: bytes, pos: int) -> tuple[Any, int]:
        mask = int.from_bytes(body[pos:pos + size], "little")
        return ",".join(value for i, value in enumerate(values) if mask >> i & 1), pos + size
    return decode


def _string_step(column: Any) -> tuple[int, Any] | None:
    """VARCHAR, CHAR, BINARY, VARBINARY, TEXT and BLOB: text or bytes by the column's charset."""
    if column.type == _BLOB:
        length_size = column.length_size
        if length_size not in (1, 2, 3, 4):
            return None
    else:  # the library reads a 2-byte length when the column may hold over 255 bytes
        length_size = 2 if column.max_length > 255 else 1
    encoding = python_codec(column.character_set_name)
    if encoding is None:
        return _K_CALL, _raw(length_size)
    if length_size <= 2:
        return (_K_VAR1 if length_size == 1 else _K_VAR2), encoding
    return _K_CALL, _text(length_size, encoding)


def _step(column: Any) -> tuple[int, Any] | None:
    """The decoding step of one column, or None when the library must decode it."""
    kind = column.type
    if (kind, bool(column.unsigned)) in _FIXED:
        return _K_FIXED, _FIXED[(kind, bool(column.unsigned))]
    if kind == _INT24:
        return _K_INT24, bool(column.unsigned)
    if kind in (_VARCHAR, _STRING, _BLOB):
        return _string_step(column)
    if kind in (_ENUM, _SET):
        values = column.enum_values if kind == _ENUM else column.set_values
        if not values or column.size not in ((1, 2) if kind == _ENUM else range(1, 9)):
            return None  # values unknown: the library answers None, the fast path declines
        return _K_CALL, (_enum if kind == _ENUM else _set)(list(values), column.size)
    if kind == _JSON:
        return (_K_CALL, json_decoder(column.length_size)) if column.length_size in (1, 2, 3, 4) else None
    decoder = temporal_decoder(column) or numeric_decoder(column)
    return (_K_CALL, decoder) if decoder is not None else None


class Plan:
    """A table map's decoding steps, and the function decoding one image with them: written
    out once per table map (one straight run of statements per column, each column's step and
    constants inline), instead of a loop that looked every step's kind up for every value of
    every row."""

    def __init__(self, steps: Sequence[tuple[int, Any]]) -> None:
        self.steps = tuple(steps)
        self.image = _compile(self.steps)

    def __len__(self) -> int:
        return len(self.steps)


def plan_for(columns: Sequence[Any]) -> Plan | None:
    """Decoding steps for a table map's columns, or None when one needs the library."""
    steps: list[tuple[int, Any]] = []
    for column in columns:
        step = _step(column)
        if step is None:
            return None
        steps.append(step)
    return Plan(steps)


def decode_rows(body: bytes, plan: Plan, images_per_row: int) -> list[Any]:
    """Every row of a rows event body (after its column bitmaps): an image list per row, or
    ``[before, after]`` when ``images_per_row`` is 2. Rows must be full images."""
    rows: list[Any] = []
    append = rows.append
    image = plan.image
    pos, end = 0, len(body)
    if images_per_row == 1:
        while pos < end:
            values, pos = image(body, pos)
            append(values)
    else:
        while pos < end:
            before, pos = image(body, pos)
            after, pos = image(body, pos)
            append([before, after])
    return rows


def _compile(steps: tuple[tuple[int, Any], ...]) -> Callable[[bytes, int], tuple[list[Any], int]]:
    """The image decoder of ``steps``: the NULL bitmap, then per column either None (its bit
    set) or its value, read at ``pos`` and moving ``pos`` past it. Constants (structs, codecs,
    decoders) enter by name from the function's scope."""
    null_bytes = (len(steps) + 7) // 8
    lines = ["def image(body, pos):",
             f"    nulls = int.from_bytes(body[pos:pos + {null_bytes}], 'little')",
             f"    pos += {null_bytes}"]
    scope: dict[str, Any] = {}
    for i, (kind, arg) in enumerate(steps):
        lines += [f"    if nulls & {1 << i}:", f"        v{i} = None", "    else:"]
        if kind == _K_FIXED:
            scope[f"U{i}"] = arg.unpack_from
            lines += [f"        v{i} = U{i}(body, pos)[0]", f"        pos += {arg.size}"]
        elif kind in (_K_VAR1, _K_VAR2):
            scope[f"E{i}"] = arg
            width = 1 if kind == _K_VAR1 else 2
            size = "body[pos]" if width == 1 else "body[pos] | body[pos + 1] << 8"
            lines += [f"        n = {size}",
                      f"        v{i} = body[pos + {width}:pos + {width} + n].decode(E{i})",
                      f"        pos += {width} + n"]
        elif kind == _K_CALL:
            scope[f"C{i}"] = arg
            lines += [f"        v{i}, pos = C{i}(body, pos)"]
        else:  # _K_INT24; arg: unsigned
            lines += [f"        v{i} = int.from_bytes(body[pos:pos + 3], 'little', signed={not arg})",
                      "        pos += 3"]
    lines += ["    if pos > len(body):",
              "        raise ValueError('rows event body ends inside a row')",
              f"    return [{', '.join(f'v{i}' for i in range(len(steps)))}], pos"]
    function: Callable[[bytes, int], tuple[list[Any], int]] = define(lines, "image", scope, "<row image>")
    return function
