"""Fast decoders for NEWDECIMAL and BIT values, with the library's results.

NEWDECIMAL is MySQL's packed decimal: the integral and fractional digits each in groups of
nine per 4 big-endian bytes, with the leftover digits of each side in 1 to 4 bytes next to the
point; the first bit is the sign, set for non-negative values, and negative values have every
byte inverted. The library builds a digit string and ``Decimal`` parses it; the fast path parses
the same string, so the result has the same digits and exponent (``Decimal('12.30')`` stays
``12.30``). BIT is the column's value as a number.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

Decoder = Callable[[bytes, int], tuple[Any, int]]

_BIT, _NEWDECIMAL = 16, 246
_DIGIT_BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)  # bytes for 0..9 leftover digits


def _integral(value: int, groups: int) -> int:
    """The integral digits: the leftover digits first, then nine-digit groups."""
    number = value >> 32 * groups
    for shift in range(32 * (groups - 1), -1, -32):
        number = number * 1_000_000_000 + (value >> shift & 0xFFFFFFFF)
    return number


def _fractional(value: int, left: int, left_bytes: int, groups: int) -> int:
    """The fractional digits: nine-digit groups, then ``left`` leftover digits at the end."""
    number = 0
    for shift in range(32 * (groups - 1) + 8 * left_bytes, 8 * left_bytes - 1, -32):
        number = number * 1_000_000_000 + (value >> shift & 0xFFFFFFFF)
    return number * 10 ** left + (value & (1 << 8 * left_bytes) - 1)


def _decimal(precision: int, scale: int) -> Decoder:
    int_groups, int_left = divmod(precision - scale, 9)
    frac_groups, frac_left = divmod(scale, 9)
    int_size = int_groups * 4 + _DIGIT_BYTES[int_left]
    frac_size = frac_groups * 4 + _DIGIT_BYTES[frac_left]
    size = int_size + frac_size
    sign_bit = 1 << (8 * size - 1)
    all_ones = (1 << 8 * size) - 1
    frac_bits, frac_mask = 8 * frac_size, (1 << 8 * frac_size) - 1
    left_bytes = _DIGIT_BYTES[frac_left]

    def decode(body: bytes, pos: int) -> tuple[Any, int]:
        raw = int.from_bytes(body[pos:pos + size], "big")
        negative = not raw & sign_bit
        raw ^= all_ones ^ sign_bit if negative else sign_bit
        whole = _integral(raw >> frac_bits, int_groups)
        text = f"-{whole}" if negative else str(whole)
        if scale:
            fraction = _fractional(raw & frac_mask, frac_left, left_bytes, frac_groups)
            text = f"{text}.{fraction:0{scale}d}"
        return Decimal(text), pos + size
    return decode


def _bit(bits: int, size: int) -> Decoder:
    mask = (1 << bits) - 1

    def decode(body: bytes, pos: int) -> tuple[Any, int]:
        # The number, which a BIT column takes back as is (the library's '0'/'1' text would be
        # stored as the bytes of those characters).
        return int.from_bytes(body[pos:pos + size], "big") & mask, pos + size
    return decode


def numeric_decoder(column: Any) -> Decoder | None:
    """The decoder for a NEWDECIMAL or BIT column of the table map, else None."""
    if column.type == _NEWDECIMAL:
        precision, scale = column.precision, column.decimals
        if not 0 < precision <= 65 or not 0 <= scale <= min(precision, 30):
            return None
        return _decimal(precision, scale)
    if column.type == _BIT:
        if not 0 < column.bits <= 64 or column.bytes != (column.bits + 7) // 8:
            return None
        return _bit(column.bits, column.bytes)
    return None
