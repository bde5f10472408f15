"""Values cross the transport exactly as the source had them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import msgpack

from replication.wire import codec


@codec.message("test.sample")
@dataclass
class Sample:
    name: str
    rows: list
    inner: object = None


def test_row_values_round_trip_exactly() -> None:
    row = [
        Decimal("-12345678901234567890.123456789"), dt.datetime(2024, 2, 29, 23, 59, 59, 700000),
        dt.date(1, 1, 1), dt.timedelta(hours=-838, minutes=-59, seconds=-59), b"\x00\xff",
        {"a", "b"}, None, 18446744073709551615, -9223372036854775808, "日本語", 1.5,
    ]
    assert codec.decode(codec.encode(row)) == row


def test_row_values_are_packed_as_msgpack_extension_types() -> None:
    """The codec builds its extension values without ExtType's argument checks: the bytes on
    the wire are still exactly those of msgpack's own ExtType."""
    micros = (-838 * 3600 - 59 * 60 - 59) * 1_000_000
    cases = [
        (Decimal("-1.50"), msgpack.ExtType(1, b"-1.50")),
        (dt.datetime(2024, 2, 29, 23, 59, 59, 700000),
         msgpack.ExtType(2, b"2024-02-29T23:59:59.700000")),
        (dt.date(1, 1, 1), msgpack.ExtType(3, b"0001-01-01")),
        (dt.timedelta(hours=-838, minutes=-59, seconds=-59),
         msgpack.ExtType(4, micros.to_bytes(8, "big", signed=True))),
        ({"b", "a"}, msgpack.ExtType(5, msgpack.packb(["a", "b"]))),
    ]
    for value, ext in cases:
        assert codec.encode([value]) == msgpack.packb([ext]), value


def test_registered_messages_nest() -> None:
    msg = Sample("outer", [[1, "x"]], Sample("inner", []))
    back = codec.decode(codec.encode(msg))
    assert back == msg
    assert isinstance(back.inner, Sample)


def test_messages_in_the_former_nested_encoding_still_decode() -> None:
    """A stream written before messages became tagged maps: extension type 10, one document
    per message."""
    def nested(kind: str, fields: list) -> msgpack.ExtType:
        return msgpack.ExtType(10, msgpack.packb([kind, fields], use_bin_type=True))

    inner = nested("test.sample", ["in", [], None])
    data = msgpack.packb(nested("test.sample", ["outer", [[1, "x"]], inner]), use_bin_type=True)
    assert codec.decode(data) == Sample("outer", [[1, "x"]], Sample("in", []))


def test_a_plain_map_is_not_taken_for_a_message() -> None:
    assert codec.decode(codec.encode({-1: ["test.sample"], "x": 1})) == {-1: ["test.sample"], "x": 1}
