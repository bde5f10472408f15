"""MySQL binary JSON (row images of JSON columns) decoded to the text MySQL prints, on bytes
built here as MySQL lays them out (no MySQL server installs on this machine)."""

from __future__ import annotations

import datetime
import json
import struct
from decimal import Decimal

from replication.source.binlog import _json_text
from replication.source.json_binary import json_decoder, json_text
from replication.source.rows import decode_rows, plan_for

# {"a": 1} exactly as MySQL 8 stores it: small object, 1 member, 12 bytes, key at 11, inline int16.
SMALL_OBJECT = bytes.fromhex("00" "0100" "0c00" "0b00" "0100" "05" "0100" "61")


def _var(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _opaque(field_type: int, data: bytes) -> bytes:
    return bytes([0x0F, field_type]) + _var(len(data)) + data


def _array(*values: bytes) -> bytes:
    """A small array of non-inlined values (each a type byte + data)."""
    header = 4 + 3 * len(values)
    entries, body, offset = b"", b"", header
    for value in values:
        entries += bytes([value[0]]) + struct.pack("<H", offset)
        body += value[1:]
        offset += len(value) - 1
    return b"\x02" + struct.pack("<HH", len(values), offset) + entries + body


def _packed_datetime(y: int, mo: int, d: int, h: int, mi: int, s: int, us: int) -> bytes:
    ymd = ((y * 13 + mo) << 5) | d
    return struct.pack("<q", (((ymd << 17) | (h << 12) | (mi << 6) | s) << 24) + us)


def _decimal_1_50() -> bytes:
    # DECIMAL(3,2) 1.50: precision, scale, then the packed decimal (sign bit set: positive).
    return bytes([3, 2]) + bytes([0x81, 0x32])


def test_a_small_object_as_mysql_stores_it() -> None:
    assert json_text(SMALL_OBJECT) == '{"a": 1}'


def test_scalars_strings_and_literals() -> None:
    doc = _array(b"\x0c" + _var(6) + "é😀".encode(), b"\x0b" + struct.pack("<d", 2.5),
                 b"\x09" + struct.pack("<q", -(2**63)), b"\x0a" + struct.pack("<Q", 2**64 - 1),
                 b"\x0b" + struct.pack("<d", 1e300))
    assert json_text(doc) == f'["é😀", 2.5, {-(2**63)}, {2**64 - 1}, 1e300]'
    assert json_text(b"\x04\x00") == "null" and json_text(b"") == "null"


def test_opaque_decimal_date_time_and_timestamp_keep_their_values() -> None:
    time_packed = -((((1 << 12) | (2 << 6) | 3) << 24) + 400000)  # -01:02:03.400000
    doc = _array(_opaque(246, _decimal_1_50()),
                 _opaque(10, _packed_datetime(2024, 2, 29, 0, 0, 0, 0)),
                 _opaque(11, struct.pack("<q", time_packed)),
                 _opaque(12, _packed_datetime(2015, 1, 15, 23, 24, 25, 5)),
                 _opaque(7, _packed_datetime(2038, 1, 19, 3, 14, 7, 999999)),
                 _opaque(15, b"\x00\xff"))
    assert json.loads(json_text(doc)) == [
        1.5, "2024-02-29", "-01:02:03.400000", "2015-01-15 23:24:25.000005",
        "2038-01-19 03:14:07.999999", "base64:type15:AP8="]
    assert json_text(doc).startswith("[1.50, ")  # the exact DECIMAL text, not a float


class _JsonColumn:
    type = 245
    length_size = 4
    name = "j"
    unsigned = False


def test_json_columns_take_the_fast_decoder() -> None:
    plan = plan_for([_JsonColumn()])
    assert plan is not None
    body = b"\x00" + struct.pack("<I", len(SMALL_OBJECT)) + SMALL_OBJECT  # null bitmap, length, doc
    assert decode_rows(body, plan, 1) == [['{"a": 1}']]
    assert json_decoder(1)(b"\x00", 0) == ("null", 1)


def test_the_library_path_serializes_opaque_scalars() -> None:
    text = _json_text({b"d": Decimal("1.50"), b"t": datetime.datetime(2024, 1, 2, 3, 4, 5),
                       b"day": datetime.date(2024, 1, 2)})
    assert json.loads(text) == {"d": "1.50", "t": "2024-01-02 03:04:05.000000", "day": "2024-01-02"}
