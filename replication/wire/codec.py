"""The wire codec for what the src sends the dest: registered dataclasses packed with msgpack.

Values must cross the transport exactly as the source had them, so the types MySQL rows carry
(Decimal, datetime, date, time as timedelta, bytes, sets) have their own extension codes; nothing
is ever pickled. A message class is registered once with ``@message("kind")``.

A message travels as a one-entry map ``{-1: [kind, field, ...]}`` inside the same msgpack
document as everything around it, so a group of thousands of transactions is one ``packb``
and one ``unpackb`` call (maps appear nowhere else: row values are never maps). Messages
written as extension type 10 (one nested document per message) are still read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from operator import attrgetter
from typing import Any, TypeVar

import msgpack

T = TypeVar("T")

_EXT_DECIMAL = 1
_EXT_DATETIME = 2
_EXT_DATE = 3
_EXT_TIMEDELTA = 4
_EXT_SET = 5
_EXT_MESSAGE = 10  # the former nested encoding of a message, still decoded
_MESSAGE_KEY = -1

# msgpack.ExtType's own constructor checks its arguments in Python, which took a quarter of a
# row's encoding; the codes here are constants and the data always bytes, so the tuple is
# built directly (the same ExtType, packed the same).
_new_tuple = tuple.__new__


def _ext(code: int, data: bytes) -> msgpack.ExtType:
    return _new_tuple(msgpack.ExtType, (code, data))  # type: ignore[no-any-return]


_by_kind: dict[str, type] = {}
_kind_of: dict[type, str] = {}
_fields_of: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def message(kind: str) -> Callable[[type[T]], type[T]]:
    """Register a dataclass so it can be sent; ``kind`` is its stable name on the wire."""

    def register(cls: type[T]) -> type[T]:
        if kind in _by_kind and _by_kind[kind] is not cls:
            raise ValueError(f"message kind {kind!r} registered twice")
        _by_kind[kind] = cls
        _kind_of[cls] = kind
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        getter = attrgetter(*names)
        _fields_of[cls] = getter if len(names) > 1 else lambda value: (getter(value),)
        return cls

    return register


def _default(value: Any) -> Any:
    kind = _kind_of.get(type(value))
    if kind is not None:
        return {_MESSAGE_KEY: [kind, *_fields_of[type(value)](value)]}
    if isinstance(value, Decimal):
        return _ext(_EXT_DECIMAL, str(value).encode())
    if isinstance(value, dt.datetime):
        return _ext(_EXT_DATETIME, value.isoformat().encode())
    if isinstance(value, dt.date):
        return _ext(_EXT_DATE, value.isoformat().encode())
    if isinstance(value, dt.timedelta):
        micros = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
        return _ext(_EXT_TIMEDELTA, micros.to_bytes(8, "big", signed=True))
    if isinstance(value, (set, frozenset)):
        return _ext(_EXT_SET, _pack(sorted(value)))
    raise TypeError(f"cannot send a value of type {type(value).__name__}")


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _EXT_MESSAGE:
        kind, fields = _unpack(data)
        return _by_kind[kind](*fields)
    if code == _EXT_DECIMAL:
        return Decimal(data.decode())
    if code == _EXT_DATETIME:
        return dt.datetime.fromisoformat(data.decode())
    if code == _EXT_DATE:
        return dt.date.fromisoformat(data.decode())
    if code == _EXT_TIMEDELTA:
        return dt.timedelta(microseconds=int.from_bytes(data, "big", signed=True))
    if code == _EXT_SET:
        return set(_unpack(data))
    return msgpack.ExtType(code, data)


def _object_hook(mapping: dict[Any, Any]) -> Any:
    fields = mapping.get(_MESSAGE_KEY)
    if fields is None or len(mapping) != 1:
        return mapping
    return _by_kind[fields[0]](*fields[1:])


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, default=_default, use_bin_type=True, datetime=False)


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_ext_hook, object_hook=_object_hook, raw=False,
                           strict_map_key=False)


def encode(value: Any) -> bytes:
    """Pack a registered message (or plain values) into bytes."""
    return _pack(value)


def decode(data: bytes) -> Any:
    """Unpack bytes made by ``encode``. Lists come back as lists, tuples as lists."""
    return _unpack(data)
