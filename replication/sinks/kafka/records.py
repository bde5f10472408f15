"""Wire messages → Kafka records: topics, keys and values in dtle's Debezium-style JSON.

``envelope`` encodes per table definition; this module picks the topic, the ``source`` block
and the encoder of the definition in force, and lines each image up with the definition's
columns (a row event names its columns; they are the definition's unless ``column_map_from``
chose fewer, whose missing values are null).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from replication.errors import TargetError
from replication.sinks.kafka.envelope import (
    Source,
    TableEncoder,
    ddl_record,
    now_ms,
    schema_change_topic,
    topic_for,
)
from replication.source.schema import TableDef
from replication.wire.changes import DDL, DELETE, INSERT, RowEvent, Transaction
from replication.wire.snapshot import SnapshotChunk, SnapshotTable


class Record(NamedTuple):
    """One Kafka record (an error names it by topic and key, never by row data)."""

    topic: str
    key: bytes | None
    value: bytes | None


def server_id_of(gtid: str) -> int:
    """The server id a MariaDB GTID (domain-server-seq) names; 0 for MySQL's uuid:n."""
    parts = gtid.split("-")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0


def snapshot_server_id(gtid_set: str) -> int:
    """The server of a snapshot position's MariaDB GTID set when one server wrote all of it
    (``0-101-3114`` or ``0-101:1-3114``); 0 otherwise (MySQL's sets name servers by uuid)."""
    servers = set()
    for item in gtid_set.split(","):
        parts = item.split(":", 1)[0].strip().split("-")
        if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
            return 0
        servers.add(int(parts[1]))
    return servers.pop() if len(servers) == 1 else 0


class _Table:
    """A definition's encoder and how a row event's images line up with its columns."""

    def __init__(self, encoder: TableEncoder, definition: TableDef, columns: Sequence[str]) -> None:
        self.encoder = encoder
        self.definition = definition
        names = [c.name for c in definition.columns]
        if list(columns) == names:
            self.order: list[int | None] | None = None
        else:
            where = {n: i for i, n in enumerate(columns)}
            self.order = [where.get(n) for n in names]

    def image(self, values: Sequence[Any]) -> Sequence[Any]:
        if self.order is None:
            return values
        return [None if i is None else values[i] for i in self.order]


class RecordMaker:
    """Makes the records of one job; caches an encoder per table definition and columns."""

    def __init__(self, kafka_topic: str, topic_per_table: bool) -> None:
        self.kafka_topic = kafka_topic
        self._per_table = topic_per_table
        self.ddl_topic = schema_change_topic(kafka_topic)
        self._tables: dict[tuple[int, tuple[str, ...]], _Table] = {}

    def topic(self, schema: str, table: str) -> str:
        return topic_for(self.kafka_topic, schema, table, self._per_table)

    def _table(self, definition: TableDef, columns: Sequence[str]) -> _Table:
        cache_key = (id(definition), tuple(columns))
        found = self._tables.get(cache_key)
        if found is None or found.definition is not definition:
            known = {c.name for c in definition.columns}
            missing = [c for c in columns if c not in known]
            if missing:
                raise TargetError(
                    f"{definition.schema}.{definition.table}: the rows carry columns {missing} "
                    "that its tracked definition lacks")
            try:
                encoder = TableEncoder(self.kafka_topic, definition, definition.key)
            except ValueError as exc:
                raise TargetError(str(exc)) from exc
            found = self._tables[cache_key] = _Table(encoder, definition, columns)
        return found

    # -- full copy ------------------------------------------------------------------------
    def create_table(self, msg: SnapshotTable) -> Record:
        p = msg.position
        key, value = ddl_record(self.kafka_topic, msg.source_schema, msg.create_table_sql,
                                ts_sec=int(time.time()), file=p.file, pos=p.pos,
                                gtids=p.gtid_set, snapshot=True)
        return Record(self.ddl_topic, key, value)

    def snapshot_rows(self, msg: SnapshotChunk, definition: TableDef) -> Iterator[Record]:
        table = self._table(definition, msg.columns)
        encoder = table.encoder
        topic = self.topic(msg.target_schema, msg.target_table)
        ts_ms = now_ms()
        source = Source(name=self.kafka_topic, server_id=snapshot_server_id(msg.position.gtid_set),
                        ts_sec=ts_ms // 1000, gtid=None, file="", pos=0, snapshot=True,
                        db=msg.target_schema, table=msg.target_table)
        for values in msg.rows:
            for key, value in encoder.insert(table.image(values), source, ts_ms, 0):
                yield Record(topic, key, value)

    # -- binlog ---------------------------------------------------------------------------
    def ddl(self, tx: Transaction, change: DDL, gtids: str) -> Record:
        key, value = ddl_record(self.kafka_topic, change.schema, change.statement,
                                ts_sec=tx.timestamp, file=tx.file, pos=tx.pos, gtids=gtids)
        return Record(self.ddl_topic, key, value)

    def rows(self, tx: Transaction, event: RowEvent, definition: TableDef) -> Iterator[Record]:
        table = self._table(definition, event.columns)
        encoder, image = table.encoder, table.image
        topic = self.topic(event.schema, event.table)
        ts_ms = now_ms()
        source = Source(name=self.kafka_topic, server_id=server_id_of(tx.gtid),
                        ts_sec=tx.timestamp, gtid=tx.gtid or None, file=tx.file, pos=tx.pos,
                        db=event.schema, table=event.table)
        for index, row in enumerate(event.rows):
            if event.kind == INSERT:
                messages = encoder.insert(image(row), source, ts_ms, index)
            elif event.kind == DELETE:
                messages = encoder.delete(image(row), source, ts_ms, index)
            else:
                messages = encoder.update(image(row[0]), image(row[1]), source, ts_ms, index)
            for key, value in messages:
                yield Record(topic, key, value)


def row_count(tx: Transaction) -> int:
    return sum(len(c.rows) for c in tx.changes if isinstance(c, RowEvent))
