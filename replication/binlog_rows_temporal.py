"""Fast decoders for DATE, YEAR, TIME2, DATETIME2 and TIMESTAMP2 values.

Each mirrors python-mysql-replication 1.0.17's reading of the type, quirks included, so the
fast path and the library give the same values: a zero or partly zero DATE/DATETIME is
``None``, TIMESTAMP is a naive datetime in UTC, YEAR is ``1900 + byte`` (so YEAR 0000 is 1900),
and the fractional part of a TIME is read as a signed number and added to the sign-applied
whole seconds the way the library does it. A decoder takes the rows body and the value's
offset and answers the value and the offset after it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

Decoder = Callable[[bytes, int], tuple[Any, int]]

# MySQL protocol column type codes (include/mysql_com.h enum_field_types).
_DATE, _YEAR, _TIMESTAMP2, _DATETIME2, _TIME2 = 10, 13, 17, 18, 19
_EPOCH = datetime.datetime(1970, 1, 1)
_datetime = datetime.datetime
_timedelta = datetime.timedelta


def _fraction(body: bytes, pos: int, fsp: int, size: int) -> int:
    """Microseconds of a fractional part, read as the library reads it (signed, big endian)."""
    if not size:
        return 0
    micro = int.from_bytes(body[pos:pos + size], "big", signed=True)
    if fsp % 2:
        micro = int(micro / 10)  # the library truncates toward zero, also for negatives
    return micro * 10 ** (6 - fsp)


def _check_micro(micro: int) -> None:
    # The library's datetime.replace(microsecond=...) refuses these; so does the fast path.
    if micro > 999_999:
        raise ValueError(f"fractional seconds out of range: {micro}")


def _date(body: bytes, pos: int) -> tuple[Any, int]:
    data = body[pos] | body[pos + 1] << 8 | body[pos + 2] << 16
    year, month, day = data >> 9, data >> 5 & 15, data & 31
    if not (year and month and day):
        return None, pos + 3  # '0000-00-00' and partly zero dates
    return datetime.date(year, month, day), pos + 3


def _year(body: bytes, pos: int) -> tuple[Any, int]:
    return body[pos] + 1900, pos + 1


def _datetime2(fsp: int) -> Decoder:
    size = (fsp + 1) // 2
    end = 5 + size

    def decode(body: bytes, pos: int) -> tuple[Any, int]:
        data = int.from_bytes(body[pos:pos + 5], "big")
        year_month = data >> 22 & 0x1FFFF
        micro = _fraction(body, pos + 5, fsp, size)
        try:
            value = _datetime(year_month // 13, year_month % 13, data >> 17 & 31, data >> 12 & 31,
                              data >> 6 & 63, data & 63, micro if 0 < micro < 1_000_000 else 0)
        except ValueError:
            return None, pos + end  # a zero date: the library gives None
        _check_micro(micro)
        return value, pos + end
    return decode


def _timestamp2(fsp: int) -> Decoder:
    size = (fsp + 1) // 2
    end = 4 + size

    def decode(body: bytes, pos: int) -> tuple[Any, int]:
        seconds = int.from_bytes(body[pos:pos + 4], "big", signed=True)
        micro = _fraction(body, pos + 4, fsp, size)
        _check_micro(micro)
        # Naive UTC, as the library's datetime.utcfromtimestamp() gives.
        return _EPOCH + _timedelta(seconds=seconds, microseconds=micro if micro > 0 else 0), pos + end
    return decode


def _time2(fsp: int) -> Decoder:
    size = (fsp + 1) // 2
    end = 3 + size

    def decode(body: bytes, pos: int) -> tuple[Any, int]:
        data = int.from_bytes(body[pos:pos + 3], "big", signed=True)
        sign = 1 if data >> 23 & 1 else -1
        if sign == -1:
            data = ~data + 1  # the library's two's complement step, kept bit for bit
        value = _timedelta(hours=data >> 12 & 0x3FF, minutes=data >> 6 & 63, seconds=data & 63,
                           microseconds=_fraction(body, pos + 3, fsp, size))
        return value * sign, pos + end
    return decode


def temporal_decoder(column: Any) -> Decoder | None:
    """The decoder for a temporal column of the table map, or None when it is not one (or has
    a fractional precision the library would not read)."""
    kind = column.type
    if kind == _DATE:
        return _date
    if kind == _YEAR:
        return _year
    factory = {_DATETIME2: _datetime2, _TIMESTAMP2: _timestamp2, _TIME2: _time2}.get(kind)
    fsp = getattr(column, "fsp", None)
    if factory is None or not isinstance(fsp, int) or not 0 <= fsp <= 6:
        return None
    return factory(fsp)
