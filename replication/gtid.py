"""GTID sets of MySQL and MariaDB: parse, test membership, add, format, compact.

One class serves both flavours. A set maps a *source key* to sorted, disjoint, inclusive
intervals of transaction numbers:

- MySQL: the key is the server uuid, the number the GTID's gno: ``uuid:1-100:102``.
- MariaDB: the key is ``domain-server`` and the number the sequence number. MariaDB sequence
  numbers grow per *domain* whatever server wrote them (gtid_strict_mode), so membership is
  decided per domain across servers. A MariaDB *position* ``0-101-42`` (what ``gtid_slave_pos``
  and the job's ``gtid`` field hold) means "everything of domain 0 up to 42", i.e. ``0-101:1-42``.
  Sets with gaps (parallel apply commits out of order) use the explicit ``0-101:1-40:42`` form,
  which only this project reads; ``position()`` gives the MariaDB position a server accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from replication.errors import ConfigError

_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_MARIADB_POS = re.compile(r"^(\d+)-(\d+)-(\d+)$")
_MARIADB_KEY = re.compile(r"^(\d+)-(\d+)$")

Interval = tuple[int, int]


def _add_interval(intervals: list[Interval], start: int, end: int) -> None:
    """Insert [start, end] into sorted disjoint ``intervals``, merging neighbours."""
    if not intervals or intervals[-1][1] + 1 < start:
        intervals.append((start, end))  # the common case: the next transaction in order
        return
    last_lo, last_hi = intervals[-1]
    if last_lo <= start and last_hi + 1 >= start:
        intervals[-1] = (last_lo, max(last_hi, end))
        return
    merged: list[Interval] = []
    for lo, hi in sorted([*intervals, (start, end)]):
        if merged and merged[-1][1] + 1 >= lo:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    intervals[:] = merged


def _contains(intervals: list[Interval], number: int) -> bool:
    # Sets stay short after compaction, and the newest interval is the likeliest hit.
    for lo, hi in reversed(intervals):
        if lo <= number <= hi:
            return True
        if hi < number:
            return False
    return False


def _parse_ranges(parts: Iterable[str], text: str) -> list[Interval]:
    intervals: list[Interval] = []
    for part in parts:
        lo, _, hi = part.partition("-")
        try:
            start, end = int(lo), int(hi or lo)
        except ValueError as exc:
            raise ConfigError(f"invalid GTID set {text!r}: bad range {part!r}") from exc
        if start < 1 or end < start:
            raise ConfigError(f"invalid GTID set {text!r}: bad range {part!r}")
        _add_interval(intervals, start, end)
    return intervals


class GtidSet:
    """A set of executed GTIDs (MySQL or MariaDB, see the module docstring)."""

    def __init__(self, mariadb: bool = False) -> None:
        self.mariadb = mariadb
        self._sets: dict[str, list[Interval]] = {}
        # MariaDB membership is per domain: domain -> keys of that domain.
        self._domains: dict[str, list[str]] = {}

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, mariadb: bool | None = None) -> GtidSet:
        """Parse either flavour; ``mariadb=None`` guesses it from the text."""
        items = [i.strip() for i in (text or "").replace("\n", "").split(",") if i.strip()]
        if mariadb is None:
            mariadb = bool(items) and not _UUID.match(items[0].split(":", 1)[0])
        result = cls(mariadb)
        for item in items:
            result._parse_item(item, text)
        return result

    def _parse_item(self, item: str, text: str) -> None:
        if self.mariadb:
            pos = _MARIADB_POS.match(item)
            if pos:
                self.add_range(f"{pos.group(1)}-{pos.group(2)}", 1, int(pos.group(3)))
                return
            key, _, rest = item.partition(":")
            if not _MARIADB_KEY.match(key) or not rest:
                raise ConfigError(f"invalid MariaDB GTID {item!r} in {text!r}: expected domain-server-seq")
        else:
            key, _, rest = item.partition(":")
            if not _UUID.match(key) or not rest:
                raise ConfigError(f"invalid MySQL GTID set {text!r}: expected uuid:1-100")
            key = key.lower()
        for start, end in _parse_ranges(rest.split(":"), text):
            self.add_range(key, start, end)

    def copy(self) -> GtidSet:
        other = GtidSet(self.mariadb)
        other._sets = {k: list(v) for k, v in self._sets.items()}
        other._domains = {k: list(v) for k, v in self._domains.items()}
        return other

    # -- membership and growth ------------------------------------------------------------
    def add_range(self, key: str, start: int, end: int) -> None:
        if key not in self._sets:
            self._sets[key] = []
            if self.mariadb:
                self._domains.setdefault(key.split("-", 1)[0], []).append(key)
        _add_interval(self._sets[key], start, end)

    def add(self, gtid: str) -> None:
        """Add one GTID: ``uuid:5`` or MariaDB ``domain-server-seq``."""
        key, number = split_gtid(gtid)
        self.add_range(key, number, number)

    def update(self, other: GtidSet) -> None:
        for key, intervals in other._sets.items():
            for start, end in intervals:
                self.add_range(key, start, end)

    def __contains__(self, gtid: str) -> bool:
        key, number = split_gtid(gtid)
        if self.mariadb:
            keys = self._domains.get(key.split("-", 1)[0], ())
            return any(_contains(self._sets[k], number) for k in keys)
        intervals = self._sets.get(key)
        return intervals is not None and _contains(intervals, number)

    def __bool__(self) -> bool:
        return bool(self._sets)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GtidSet) and self.format() == other.format()

    def __hash__(self) -> int:
        return hash(self.format())

    # -- output ---------------------------------------------------------------------------
    def format(self) -> str:
        """The explicit form ``key:1-5:7``; MySQL's own syntax for MySQL sets."""
        out = []
        for key in sorted(self._sets):
            ranges = ":".join(f"{lo}-{hi}" if hi != lo else str(lo) for lo, hi in self._sets[key])
            out.append(f"{key}:{ranges}")
        return ",".join(out)

    def position(self) -> str:
        """What a server accepts as the start: MySQL's set as is; for MariaDB, per domain the
        last GTID of the gap-free prefix (later GTIDs past a gap are re-read and skipped)."""
        if not self.mariadb:
            return self.format()
        out = []
        for domain in sorted(self._domains, key=int):
            merged: list[Interval] = []
            for key in self._domains[domain]:
                for start, end in self._sets[key]:
                    _add_interval(merged, start, end)
            prefix_end = merged[0][1]
            owner = next(k for k in self._domains[domain] if _contains(self._sets[k], prefix_end))
            out.append(f"{owner}-{prefix_end}")
        return ",".join(out)

    def __str__(self) -> str:
        return self.position() if self.mariadb else self.format()

    def __repr__(self) -> str:
        return f"GtidSet({self.format()!r})"


def split_gtid(gtid: str) -> tuple[str, int]:
    """``uuid:5`` → (uuid, 5); ``0-101-5`` → ("0-101", 5)."""
    if ":" in gtid:
        key, _, number = gtid.rpartition(":")
        return key.lower(), int(number)
    domain, server, seq = gtid.split("-")
    return f"{domain}-{server}", int(seq)


def is_mariadb_gtid(text: str) -> bool:
    first = (text or "").split(",", 1)[0].strip()
    return bool(first) and not _UUID.match(first.split(":", 1)[0])
