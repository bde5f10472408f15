"""The binlog's DECIMAL and DATETIME2 decoders against values encoded here as the server stores
them (MySQL's packed decimal; DATETIME2's packed fields and fraction), for every precision and
scale and every fractional precision. The integration tests compare the same decoders with
python-mysql-replication on a real server's binlog."""

from __future__ import annotations

import datetime
import random
import struct
from decimal import Decimal
from types import SimpleNamespace

import pytest

from replication.source.rows import decode_rows, plan_for
from replication.source.rows_numeric import numeric_decoder
from replication.source.rows_temporal import temporal_decoder

_DIGIT_BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)


def encode_decimal(text: str, precision: int, scale: int) -> bytes:
    """``text`` (at most ``precision - scale`` integral and exactly ``scale`` fraction digits) as
    MySQL stores DECIMAL(precision, scale): leftover integral digits, then nine-digit groups;
    fraction groups, then leftover fraction digits; negative values with every bit inverted;
    the first bit flipped."""
    negative = text.startswith("-")
    whole, _, fraction = text.lstrip("-").partition(".")
    whole = whole.lstrip("0").rjust(precision - scale, "0")
    int_left = (precision - scale) % 9
    chunks = [(whole[:int_left], _DIGIT_BYTES[int_left])] if int_left else []
    chunks += [(whole[i:i + 9], 4) for i in range(int_left, len(whole), 9)]
    full = scale - scale % 9
    chunks += [(fraction[i:i + 9], 4) for i in range(0, full, 9)]
    if scale % 9:
        chunks.append((fraction[full:], _DIGIT_BYTES[scale % 9]))
    data = bytearray(b"".join(int(digits).to_bytes(size, "big") for digits, size in chunks))
    if negative:
        data = bytearray(b ^ 0xFF for b in data)
    data[0] ^= 0x80
    return bytes(data)


def decimal_column(precision: int, scale: int) -> SimpleNamespace:
    return SimpleNamespace(type=246, precision=precision, decimals=scale)


SHAPES = [(p, s) for p in range(1, 66) for s in range(min(p, 30) + 1)]


@pytest.mark.parametrize(("precision", "scale"), SHAPES)
def test_decimal_values_of_every_shape_decode_to_their_digits(precision: int, scale: int) -> None:
    decode = numeric_decoder(decimal_column(precision, scale))
    assert decode is not None
    rng = random.Random(precision * 100 + scale)
    digits = precision - scale
    texts = []
    for _ in range(12):
        whole = str(rng.randrange(10 ** digits)) if digits else "0"
        fraction = str(rng.randrange(10 ** scale)).rjust(scale, "0") if scale else ""
        sign = rng.choice(["", "-"])
        texts.append(f"{sign}{whole}" + (f".{fraction}" if scale else ""))
    largest = "9" * digits or "0"
    texts += [f"{largest}.{'9' * scale}" if scale else largest,
              f"-{largest}.{'9' * scale}" if scale else f"-{largest}",
              f"0.{'0' * scale}" if scale else "0"]
    for text in texts:
        stored = b"\x07" + encode_decimal(text, precision, scale) + b"\x07"
        value, end = decode(stored, 1)
        assert end == len(stored) - 1
        assert isinstance(value, Decimal)
        assert value == Decimal(text) and value.as_tuple().exponent == -scale, (text, value)


def encode_datetime2(moment: tuple[int, int, int, int, int, int], micro: int, fsp: int) -> bytes:
    year, month, day, hour, minute, second = moment
    packed = ((year * 13 + month) << 22 | day << 17 | hour << 12 | minute << 6 | second)
    data = (packed + 0x8000000000).to_bytes(5, "big")
    size = (fsp + 1) // 2
    if size:
        # the fraction in units of 10^-(2 * size) seconds
        data += (micro // 10 ** (6 - 2 * size)).to_bytes(size, "big", signed=True)
    return data


@pytest.mark.parametrize("fsp", range(7))
def test_datetime2_values_decode_at_every_fractional_precision(fsp: int) -> None:
    decode = temporal_decoder(SimpleNamespace(type=18, fsp=fsp))
    assert decode is not None
    rng = random.Random(fsp)
    cases = [((1000, 1, 1, 0, 0, 0), 0), ((9999, 12, 31, 23, 59, 59), 999_999),
             ((2024, 2, 29, 12, 34, 56), 123_456)]
    cases += [((rng.randrange(1000, 10000), rng.randrange(1, 13), rng.randrange(1, 29),
                rng.randrange(24), rng.randrange(60), rng.randrange(60)), rng.randrange(10 ** 6))
              for _ in range(200)]
    for moment, micro in cases:
        kept = micro - micro % 10 ** (6 - fsp)  # the column holds fsp digits
        stored = b"\x01" + encode_datetime2(moment, kept, fsp) + b"\x01"
        value, end = decode(stored, 1)
        assert end == len(stored) - 1
        assert value == datetime.datetime(*moment, kept), (moment, kept, value)


@pytest.mark.parametrize("fsp", [0, 3, 6])
def test_zero_and_partly_zero_datetimes_are_their_text(fsp: int) -> None:
    decode = temporal_decoder(SimpleNamespace(type=18, fsp=fsp))
    assert decode is not None
    assert decode(encode_datetime2((0, 0, 0, 0, 0, 0), 0, fsp), 0)[0] == "0000-00-00 00:00:00"
    fraction = 500_000 if fsp else 0
    text = "2024-00-15 01:02:03" + (".500000" if fsp else "")
    assert decode(encode_datetime2((2024, 0, 15, 1, 2, 3), fraction, fsp), 0)[0] == text


def test_an_image_of_many_columns_reads_each_null_bit_and_value() -> None:
    # 70 INT columns: a nine-byte NULL bitmap, every third column NULL, the others i * 1000 - 7
    columns = [SimpleNamespace(type=3, unsigned=False) for _ in range(70)]
    plan = plan_for(columns)
    assert plan is not None and len(plan) == 70
    nulls = sum(1 << i for i in range(0, 70, 3))
    values = [None if i % 3 == 0 else i * 1000 - 7 for i in range(70)]
    image = nulls.to_bytes(9, "little") + b"".join(
        v.to_bytes(4, "little", signed=True) for v in values if v is not None)
    assert decode_rows(image + image, plan, 1) == [values, values]
    assert decode_rows(image + image, plan, 2) == [[values, values]]
    with pytest.raises(struct.error):  # a body cut inside a value
        decode_rows(image[:-2], plan, 1)
