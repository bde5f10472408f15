"""The sink's producer puts a keyed record on the partition Kafka's Java default partitioner
picks: murmur2 of the key bytes, made positive, modulo the partition count. Consumers and other
producers of a multi-partition topic rely on that mapping (one key, one partition, one order).
Its record batches carry the compression the job asks for (lz4 unless it says otherwise), and
read back as sent.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import redis
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.record import default_records

from replication.runners import DestRunner, SrcRunner
from replication.sinks.kafka.broker import read_topic
from replication.sinks.kafka.producer import TxProducer
from scripts.cluster import wait_for
from scripts.kafka_sandbox import KafkaBroker
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.incremental import start_runner
from tests.support.kafka import kafka_job

# murmur2 of these keys as Kafka's org.apache.kafka.common.utils.Utils.murmur2 computes them
# (the vectors of Kafka's own UtilsTest)
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (seed 0x9747b28c), as a signed 32-bit int like Java's."""
    m, r, mask = 0x5BD1E995, 24, 0xFFFFFFFF
    length = len(data)
    h = (0x9747B28C ^ length) & mask
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & mask
        k ^= k >> r
        k = (k * m) & mask
        h = (h * m) & mask
        h ^= k
    tail = length % 4
    if tail:
        rest = data[length - tail:]
        if tail == 3:
            h ^= rest[2] << 16
        if tail >= 2:
            h ^= rest[1] << 8
        h ^= rest[0]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def java_partition(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def test_the_reference_murmur2_matches_javas() -> None:
    assert {key: murmur2(key) for key in JAVA_MURMUR2} == JAVA_MURMUR2


def test_keyed_records_land_on_javas_default_partition(kafka_broker: KafkaBroker) -> None:
    topic, partitions = f"parts{uuid.uuid4().hex[:8]}", 7
    admin = KafkaAdminClient(bootstrap_servers=[kafka_broker.bootstrap])
    admin.create_topics([NewTopic(topic, partitions, 1)])
    admin.close()
    keys = [*JAVA_MURMUR2, *(b'{"payload":{"id":%d}}' % i for i in range(200))]
    producer = TxProducer([kafka_broker.bootstrap], f"parts-{topic}", 20.0, "lz4")
    try:
        producer.init()
        producer.begin()
        for key in keys:
            producer.send(topic, key, b"v")
        producer.commit()
    finally:
        producer.close()
    landed = {r.key: r.partition for p in range(partitions)
              for r in read_topic([kafka_broker.bootstrap], topic, partition=p)}
    assert landed == {key: java_partition(key, partitions) for key in keys}
    assert len(set(landed.values())) == partitions  # the keys spread over every partition


# Kafka's record batch attribute codes (the low three bits of a batch's attributes)
CODECS = {"none": 0, "gzip": 1, "lz4": 3, "zstd": 4}


@pytest.mark.parametrize("compression", list(CODECS))
def test_record_batches_carry_the_jobs_compression(kafka_broker: KafkaBroker, compression: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    topic = f"codec{uuid.uuid4().hex[:8]}"
    values = [b'{"schema":{"fields":[%s]},"payload":{"id":%d}}' % (b'{"type":"int32"},' * 30, i)
              for i in range(300)]
    producer = TxProducer([kafka_broker.bootstrap], f"codec-{topic}", 20.0, compression)
    try:
        producer.init()
        producer.begin()
        for i, value in enumerate(values):
            producer.send(topic, b"%d" % i, value)
        producer.commit()
    finally:
        producer.close()
    records, codecs = _read_noting_codecs(monkeypatch, kafka_broker, topic)
    assert [r.value for r in records] == values
    data_batches = [c for c in codecs if c != 0] if compression != "none" else codecs
    assert data_batches and set(data_batches) == {CODECS[compression]}


@pytest.mark.parametrize("compression", [None, "zstd"])  # None: the job's default, lz4
def test_a_subscription_publishes_with_its_jobs_compression(
        source_server: MariaDBServer, kafka_broker: KafkaBroker, redis_client: redis.Redis,
        job_id: str, fresh_schema: str, compression: str | None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    s, prefix = fresh_schema, f"jc{uuid.uuid4().hex[:8]}"
    source_server.execute(f"CREATE DATABASE `{s}`")
    source_server.execute(f"CREATE TABLE `{s}`.t (id INT PRIMARY KEY, v VARCHAR(20))")
    source_server.execute(f"INSERT INTO `{s}`.t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    dest = {"kafka_compression": compression} if compression else {}
    job = kafka_job(job_id, source_server, kafka_broker, s, prefix, dest)
    topic = f"{prefix}.{s}.t"
    src = start_runner(SrcRunner, job, redis_client)
    runner = start_runner(DestRunner, job, redis_client)
    try:
        wait_for(lambda: len(read_topic([kafka_broker.bootstrap], topic)) == 3, 60,
                 "the snapshot's three rows", interval=0.3)
    finally:
        src.stop(30)
        runner.stop(30)
    assert not src.error and not runner.error, (src.error, runner.error)
    records, codecs = _read_noting_codecs(monkeypatch, kafka_broker, topic)
    assert [json.loads(r.value)["payload"]["after"]["v"] for r in records] == ["a", "b", "c"]
    data_batches = [c for c in codecs if c != 0]
    assert data_batches and set(data_batches) == {CODECS[compression or "lz4"]}


def _read_noting_codecs(monkeypatch: pytest.MonkeyPatch, broker: KafkaBroker,
                        topic: str) -> tuple[list[Any], list[int]]:
    """The topic's committed records, and the compression of every record batch the consumer
    parsed on the way (seen as each is built from the fetched bytes)."""
    codecs: list[int] = []
    parse = default_records.DefaultRecordBatch.__init__

    def noting(batch: Any, buffer: Any) -> None:
        parse(batch, buffer)
        codecs.append(batch.compression_type)

    monkeypatch.setattr(default_records.DefaultRecordBatch, "__init__", noting)
    records = read_topic([broker.bootstrap], topic)
    monkeypatch.undo()
    return records, codecs
