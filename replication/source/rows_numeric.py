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

from replication.codegen import define

Decoder = Callable[[bytes, int], tuple[Any, int]]

_BIT, _NEWDECIMAL = 16, 246
_DIGIT_BYTES = (0, 1, 1, 2, 2, 3, 3, 4, 4, 4)  # bytes for 0..9 leftover digits


def _groups(name: str, groups: int, shift: int, lead: bool) -> str:
    """An expression of the nine-digit groups of ``name`` above bit ``shift`` as one number:
    the groups are 32 bits each, most significant first, led by the bits above them when
    ``lead`` (the integral part's leftover digits; the fraction has nothing above its groups)."""
    top = shift + 32 * groups
    expr = (f"({name} >> {top})" if top else name) if lead else "0"
    for k in range(groups - 1, -1, -1):
        group = f"({name} >> {shift + 32 * k} & 4294967295)"
        expr = group if expr == "0" else f"({expr} * 1000000000 + {group})"
    return expr


def _decimal(precision: int, scale: int) -> Decoder:
    """The decoder of one DECIMAL(precision, scale), written out once per column type: the
    digit groups' arithmetic unrolled into one expression per side instead of two loops and
    their calls per value. The text it parses is the library's: the integral digits, and the
    fraction zero-padded to ``scale`` digits."""
    int_groups, int_left = divmod(precision - scale, 9)
    frac_groups, frac_left = divmod(scale, 9)
    int_size = int_groups * 4 + _DIGIT_BYTES[int_left]
    frac_size = frac_groups * 4 + _DIGIT_BYTES[frac_left]
    size = int_size + frac_size
    sign_bit = 1 << (8 * size - 1)
    left_bytes = _DIGIT_BYTES[frac_left]
    whole = _groups("whole", int_groups, 0, lead=True)
    lines = ["def decode(body, pos):",
             f"    raw = from_bytes(body[pos:pos + {size}], 'big')",
             f"    if raw & {sign_bit}:",
             f"        raw ^= {sign_bit}",
             "        sign = ''",
             "    else:",  # negative: every byte was inverted, the sign bit stays clear
             f"        raw ^= {((1 << 8 * size) - 1) ^ sign_bit}",
             "        sign = '-'",
             f"    whole = raw >> {8 * frac_size}"]
    if scale:
        fraction = _groups("part", frac_groups, 8 * left_bytes, lead=False)
        if frac_left:  # the leftover digits, last
            leftover = f"(part & {(1 << 8 * left_bytes) - 1})"
            fraction = leftover if fraction == "0" else f"{fraction} * {10 ** frac_left} + {leftover}"
        lines += [f"    part = raw & {(1 << 8 * frac_size) - 1}",
                  f"    fraction = {fraction}",
                  f"    return Decimal('%s%d.%0{scale}d' % (sign, {whole}, fraction)), pos + {size}"]
    else:
        lines += [f"    return Decimal('%s%d' % (sign, {whole})), pos + {size}"]
    decode: Decoder = define(lines, "decode", {"from_bytes": int.from_bytes, "Decimal": Decimal},
                             f"<decimal({precision},{scale})>")
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
