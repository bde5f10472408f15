"""A subscription job's schema history, kept in its own compacted Kafka topic.

The src records each table definition version (``SchemaVersion``) before it sends anything that
follows it; the sink reads them back to type the values it encodes, and a restarted src to
decode the binlog from its checkpoint on. A record's key names the table and the version
(``ident``), so recording a version again after a crash changes nothing: readers keep the first
record of each key, in topic order, which is binlog order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kafka.errors import KafkaError

from replication.position import BinlogPosition
from replication.sinks.kafka import broker
from replication.source.schema import SchemaVersion, TableDef


def _key(v: SchemaVersion) -> bytes:
    return json.dumps([v.schema, v.table, v.ident], separators=(",", ":")).encode()


def _value(v: SchemaVersion) -> bytes:
    p = v.position
    return json.dumps({"schema": v.schema, "table": v.table, "position": [p.file, p.pos, p.gtid_set],
                       "definition": v.definition.to_json() if v.definition else None,
                       "gtid": v.gtid, "base": v.base}, separators=(",", ":")).encode()


def _version(data: bytes) -> SchemaVersion:
    v = json.loads(data)
    file, pos, gtid_set = v["position"]
    definition = TableDef.from_json(v["definition"]) if v["definition"] is not None else None
    return SchemaVersion(v["schema"], v["table"], BinlogPosition(file, int(pos), gtid_set),
                         definition, v["gtid"], bool(v["base"]))


class SchemaHistoryTopic:
    """Reads and appends one job's schema history."""

    def __init__(self, servers: list[str], job_id: str) -> None:
        self._servers = servers
        self.topic = broker.history_topic(job_id)
        self._producer: Any = None
        self._kept: set[bytes] | None = None

    def load(self) -> list[SchemaVersion]:
        """Every version kept, in the order first recorded."""
        seen: set[bytes] = set()
        versions = []
        for record in broker.read_topic(self._servers, self.topic):
            if record.key in seen or record.value is None:
                continue
            seen.add(record.key)
            versions.append(_version(record.value))
        self._kept = seen
        return versions

    def record(self, versions: Sequence[SchemaVersion]) -> None:
        """Keep ``versions`` durably (acknowledged by the broker) before returning."""
        if self._kept is None:
            self.load()
        assert self._kept is not None
        new = [v for v in versions if _key(v) not in self._kept]
        if not new:
            return
        if self._producer is None:
            maker = broker.TopicMaker(self._servers)
            try:
                maker.ensure([self.topic], compacted=True)
            finally:
                maker.close()
            self._producer = broker.producer(self._servers, None)
        try:
            futures = [self._producer.send(self.topic, key=_key(v), value=_value(v)) for v in new]
            self._producer.flush()
            for future in futures:
                future.get(timeout=broker.CLIENT_TIMEOUT_MS / 1000)
        except KafkaError as exc:
            raise broker.connect_error(exc, self._servers) from exc
        self._kept.update(_key(v) for v in new)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
            self._producer = None
