"""Fast decoders for DATE, YEAR, TIME2, DATETIME2 and TIMESTAMP2 values.

Each reads the type as python-mysql-replication 1.0.17 does, except where the library loses the
value: a zero or partly zero DATE/DATETIME (the library: ``None``) is its text, such as
``'0000-00-00'`` or ``'2024-00-15 10:00:00'``; the zero TIMESTAMP (the library: the epoch) is
``'0000-00-00 00:00:00'``; YEAR 0000 (the library: 1900) is 0; a negative TIME keeps its
fraction (see ``_time2``). TIMESTAMP is a naive datetime in UTC. A decoder takes the rows
body and the value's offset and answers the value and the offset after it.
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
        # '0000-00-00' and partly zero dates: as text, which the target stores unchanged
        return f"{year:04d}-{month:02d}-{day:02d}", pos + 3
    return datetime.date(year, month, day), pos + 3


def _year(body: bytes, pos: int) -> tuple[Any, int]:
    return (body[pos] + 1900 if body[pos] else 0), pos + 1  # the byte 0 is YEAR 0000


def _datetime2(fsp: int) -> Decoder:
    size = (fsp + 1) // 2
    end = 5 + size
    odd, scale = fsp % 2, 10 ** (6 - fsp)
    from_bytes = int.from_bytes

    def decode(body: bytes, pos: int) -> tuple[Any, int]:
        # _fraction written inline (two calls per value before)
        micro = 0
        if size:
            micro = from_bytes(body[pos + 5:pos + end], "big", signed=True)
            if odd:
                micro = int(micro / 10)
            micro *= scale
            if micro > 999_999:
                _check_micro(micro)
        data = from_bytes(body[pos:pos + 5], "big")
        year_month = data >> 22 & 0x1FFFF
        try:
            return _datetime(year_month // 13, year_month % 13, data >> 17 & 31, data >> 12 & 31,
                             data >> 6 & 63, data & 63, micro if micro > 0 else 0), pos + end
        except ValueError:  # a zero or partly zero date: as text, which the target keeps
            parts = (year_month // 13, year_month % 13, data >> 17 & 31, data >> 12 & 31,
                     data >> 6 & 63, data & 63)
            text = "{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}".format(*parts)
            return (f"{text}.{micro:06d}" if micro > 0 else text), pos + end
    return decode


def _timestamp2(fsp: int) -> Decoder:
    size = (fsp + 1) // 2
    end = 4 + size

    def decode(body: bytes, pos: int) -> tuple[Any, int]:
        seconds = int.from_bytes(body[pos:pos + 4], "big", signed=True)
        micro = _fraction(body, pos + 4, fsp, size)
        _check_micro(micro)
        if not seconds and micro <= 0:
            return "0000-00-00 00:00:00", pos + end  # the zero TIMESTAMP, not the epoch
        # Naive UTC, as the library's datetime.utcfromtimestamp() gives.
        return _EPOCH + _timedelta(seconds=seconds, microseconds=micro if micro > 0 else 0), pos + end
    return decode


def _time2(fsp: int) -> Decoder:
    """TIME2 as the server reads it (my_time_packed_from_binary): a signed packed number of
    hours/minutes/seconds << 24 plus microseconds. The library misreads the fraction of a
    negative TIME (-01:02:03.4 came back as -01:02:03.6), so this decoder does not follow it."""
    size = (fsp + 1) // 2
    end = 3 + size

    def decode(body: bytes, pos: int) -> tuple[Any, int]:
        if size == 3:
            packed = int.from_bytes(body[pos:pos + 6], "big") - 0x800000000000
        else:
            intpart = int.from_bytes(body[pos:pos + 3], "big") - 0x800000
            frac = int.from_bytes(body[pos + 3:pos + end], "big") if size else 0
            if intpart < 0 and frac:  # negative: the fraction is stored counted down from 1
                intpart += 1
                frac -= 1 << (8 * size)
            packed = (intpart << 24) + frac * (10_000 if size == 1 else 100)
        negative, packed = packed < 0, abs(packed)
        hms = packed >> 24
        value = _timedelta(hours=hms >> 12 & 0x3FF, minutes=hms >> 6 & 63, seconds=hms & 63,
                           microseconds=packed & 0xFFFFFF)
        return (-value if negative else value), pos + end
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
