"""A subscription job's checkpoint: what its Kafka transactions have published.

The sink writes the whole checkpoint as one record (key = job id) to the job's compacted
checkpoint topic in the same Kafka transaction as the messages it covers, so a
``read_committed`` reader sees both or neither. The newest committed record is the truth:

- ``tables``: per source table of the full copy, the last chunk published (number, last key,
  rows) and the snapshot positions, as the MySQL sink keeps them; ``announced`` the tables
  whose CREATE TABLE went to the schema-change topic;
- ``done``: the finished copy's start and end positions;
- ``position``: where the binlog continues (every transaction before it published), with
  ``replay_until``: up to where the binlog overlaps the copy.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from typing import Any

from replication.gtid import GtidSet
from replication.position import BinlogPosition
from replication.resume import SnapshotResume, TableCheckpoint

TableKey = tuple[str, str]
# Committed transactions, and aborted ones, each leave a record and a marker: the newest
# checkpoint is among the last few offsets unless many transactions in a row were aborted.
TAIL_OFFSETS = 64


def _pos(p: BinlogPosition | None) -> list[Any] | None:
    return [p.file, p.pos, p.gtid_set] if p is not None else None


def _unpos(v: Any) -> BinlogPosition | None:
    return BinlogPosition(v[0], int(v[1]), v[2]) if v is not None else None


def _table_json(cp: TableCheckpoint) -> dict[str, Any]:
    return {"seq": cp.seq, "rows": cp.rows_done, "keyless": cp.keyless, "done": cp.done,
            "last_key": base64.b64encode(cp.last_key).decode() if cp.last_key is not None else None,
            "start": _pos(cp.start), "end": _pos(cp.end)}


def _table_from(v: dict[str, Any]) -> TableCheckpoint:
    key = v.get("last_key")
    return TableCheckpoint(int(v["seq"]), base64.b64decode(key) if key is not None else None,
                           int(v["rows"]), bool(v["keyless"]), bool(v["done"]),
                           _unpos(v["start"]) or BinlogPosition(), _unpos(v["end"]) or BinlogPosition())


@dataclass
class KafkaCheckpoint:
    tables: dict[TableKey, TableCheckpoint] = field(default_factory=dict)
    announced: set[TableKey] = field(default_factory=set)
    done: tuple[BinlogPosition, BinlogPosition] | None = None
    position: BinlogPosition | None = None
    replay_until: BinlogPosition | None = None
    messages: int = 0  # messages published so far (the monitor's counters after a restart)

    def copy(self) -> KafkaCheckpoint:
        return replace(self, tables=dict(self.tables), announced=set(self.announced))

    def snapshot_resume(self) -> SnapshotResume:
        return SnapshotResume(dict(self.tables), self.done)

    def to_bytes(self) -> bytes:
        return json.dumps({
            "tables": [[s, t, _table_json(cp)] for (s, t), cp in sorted(self.tables.items())],
            "announced": sorted([s, t] for s, t in self.announced),
            "done": [_pos(self.done[0]), _pos(self.done[1])] if self.done else None,
            "position": _pos(self.position), "replay_until": _pos(self.replay_until),
            "messages": self.messages,
        }, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> KafkaCheckpoint:
        v = json.loads(data)
        done = v.get("done")
        return cls(
            {(s, t): _table_from(cp) for s, t, cp in v.get("tables", [])},
            {(s, t) for s, t in v.get("announced", [])},
            (_unpos(done[0]) or BinlogPosition(), _unpos(done[1]) or BinlogPosition()) if done else None,
            _unpos(v.get("position")), _unpos(v.get("replay_until")), int(v.get("messages", 0)))


def covered(position: BinlogPosition | None, gtid: str, file: str, pos: int,
            cache: dict[str, GtidSet]) -> bool:
    """Whether the transaction ``gtid`` ending at ``file:pos`` is at or before ``position``."""
    if position is None:
        return False
    if gtid and position.gtid_set:
        parsed = cache.get(position.gtid_set)
        if parsed is None:
            if len(cache) > 16:
                cache.clear()
            parsed = cache[position.gtid_set] = GtidSet.parse(position.gtid_set)
        return gtid in parsed
    return bool(position.file) and (file, pos) <= (position.file, position.pos)
