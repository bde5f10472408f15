"""A subscription job publishes the snapshot and the binlog to Kafka exactly as a consumer
expects: every column type of the type tests, in snapshot rows and binlog rows alike, keys,
operations, the ``source`` block, tombstones, DDL records and per-key order, read by a consumer
group with ``read_committed``."""

from __future__ import annotations

import base64
import time
import uuid
from decimal import Context, Decimal, localcontext

import pytest
import redis

from replication.runners import DestRunner, SrcRunner
from scripts.kafka_sandbox import KafkaBroker
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.every_type import BINLOG_COLUMNS as COLUMNS
from tests.support.every_type import BINLOG_ROWS as ROWS
from tests.support.incremental import start_runner
from tests.support.kafka import Message, TopicReader, kafka_job


def _unscaled(value: str, scale: int) -> str:
    """Connect Decimal: base64 of the big-endian two's-complement unscaled integer."""
    with localcontext(Context(prec=100)):
        unscaled = int(Decimal(value).scaleb(scale))
    size = max(1, (unscaled.bit_length() + 8) // 8)
    return base64.b64encode(unscaled.to_bytes(size, "big", signed=True)).decode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _insert(source: MariaDBServer, schema: str, rows: list[str], id_offset: int = 0) -> None:
    conn = source.connect(database=schema)
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = '', time_zone = '+05:00'")
        for row in rows:
            if id_offset:
                first, rest = row[1:].split(",", 1)
                row = f"({int(first) + id_offset},{rest}"
            cur.execute(f"INSERT INTO t VALUES {row}")
    conn.commit()
    conn.close()


def _by_id(messages: list[Message]) -> dict[int, Message]:
    return {m.payload["after"]["id"]: m for m in messages if m.value is not None and m.payload["op"] == "c"}


@pytest.fixture
def topic() -> str:
    return f"sub{uuid.uuid4().hex[:8]}"


def test_snapshot_and_binlog_reach_kafka_message_by_message(
        source_server: MariaDBServer, kafka_broker: KafkaBroker, redis_client: redis.Redis,
        job_id: str, fresh_schema: str, topic: str) -> None:
    s = fresh_schema
    source_server.execute(f"CREATE DATABASE `{s}`")
    source_server.execute(f"CREATE TABLE `{s}`.t ({COLUMNS})")
    _insert(source_server, s, ROWS)
    source_server.execute(f"CREATE TABLE `{s}`.nokey (a INT, b VARCHAR(5))")
    source_server.execute(f"INSERT INTO `{s}`.nokey VALUES (1, 'x')")
    job = kafka_job(job_id, source_server, kafka_broker, s, topic)
    rows_topic, ddl_topic = f"{topic}.{s}.t", f"schema-changes.{topic}"
    keyless_topic = f"{topic}.{s}.nokey"
    reader = TopicReader(kafka_broker, [rows_topic, ddl_topic, keyless_topic])
    src = start_runner(SrcRunner, job, redis_client)
    dest = start_runner(DestRunner, job, redis_client)

    def no_errors() -> None:
        assert not src.error and not dest.error, (src.error, dest.error)

    def on(topic_name: str) -> list[Message]:
        return [m for m in reader.messages if m.topic == topic_name]

    try:
        reader.read_until(lambda _: len(on(rows_topic)) >= 3, errors=no_errors)
        _insert(source_server, s, ROWS, id_offset=100)
        source_server.execute(f"UPDATE `{s}`.t SET u8 = 'après 😀', y = 1999 WHERE id = 3")
        source_server.execute(f"DELETE FROM `{s}`.t WHERE id = 2")
        source_server.execute(f"ALTER TABLE `{s}`.t ADD COLUMN extra VARCHAR(10) NULL")
        source_server.execute(f"INSERT INTO `{s}`.t (id, extra) VALUES (104, 'new')")
        source_server.execute(f"DELETE FROM `{s}`.nokey WHERE a = 1")
        reader.read_until(lambda _: len(on(rows_topic)) >= 10 and len(on(ddl_topic)) >= 3
                          and len(on(keyless_topic)) >= 2, errors=no_errors)
        reader.settle()
    finally:
        src.stop()
        dest.stop()
        reader.close()
    no_errors()
    rows, ddls = on(rows_topic), on(ddl_topic)
    ops = [(m.key_payload, m.payload and m.payload["op"]) for m in rows]
    assert ops == [({"id": 1}, "c"), ({"id": 2}, "c"), ({"id": 3}, "c"),
                   ({"id": 101}, "c"), ({"id": 102}, "c"), ({"id": 103}, "c"),
                   ({"id": 3}, "u"), ({"id": 2}, "d"), ({"id": 2}, None), ({"id": 104}, "c")]
    assert len({m.partition for m in rows}) == 1  # one partition: every key's order is kept

    # Snapshot rows carry the same values as the binlog's rows of the same data.
    created = _by_id(rows)
    for row_id in (1, 2, 3):
        snap, binlog = created[row_id].payload["after"], created[row_id + 100].payload["after"]
        assert {**snap, "id": 0} == {**binlog, "id": 0}
        assert created[row_id].value["schema"] == created[row_id + 100].value["schema"]

    one, two, three = (created[i].payload["after"] for i in (1, 2, 3))
    assert one["dec1"] == _unscaled("-99999999999999999999999999999999999.999999999999999999999999999999", 30)
    assert one["dec2"] == _unscaled("9999999999", 0)
    assert one["big"] == _unscaled("18446744073709551615", 0)  # unsigned BIGINT max, exact
    assert one["f"] == 1.5 and one["db"] == -2.2250738585072014e-308
    assert one["tm"] == -(838 * 3600 + 59 * 60 + 59) * 1_000_000  # MicroTime, negative
    assert one["tm1"] == -1_500_000
    assert one["b"] == _b64((0b1010101010).to_bytes(2, "little"))  # Bits, little-endian
    assert one["e"] == "b" and one["s"] == "x,z"
    assert one["vc"] == "café" and one["g"] == "中文" and one["u8"] == "😀 ok"
    assert one["bin"] == _b64(b"ab\x00\x00") and one["vb"] == _b64(b"\x00\xff")
    assert one["bl"] == _b64(b"\x00\x01\x02\x03") and one["tx"] == "long text"
    assert one["js"] == '{"k": [1, 2.5, null]}'
    assert one["d"] is None and one["ts"] is None  # a zero date in a nullable column: null
    assert one["y"] == 0
    assert two["ts"] == "2038-01-18T22:14:07.999Z"  # written at +05:00, published in UTC
    assert two["dt"] == 253402300799999999  # DATETIME(6): MicroTimestamp
    assert two["y"] == 2155 and two["big"] == _unscaled("0", 0)
    assert two["tm"] == (838 * 3600 + 59 * 60 + 59) * 1_000_000 + 999_999
    assert three["dn"] == 19782 and three["dec1"] == _unscaled("12.3", 30)  # 2024-02-29 in days
    assert three["tm"] == -1 and three["y"] == 1901
    assert all(three[c] is None for c in ("f", "b", "e", "s", "g", "u8", "bl", "js", "big"))

    snapshot_source = created[1].payload["source"]
    assert snapshot_source["snapshot"] is True and snapshot_source["gtid"] is None
    assert (snapshot_source["file"], snapshot_source["pos"]) == ("", 0)
    assert snapshot_source["server_id"] == 101
    assert (snapshot_source["name"], snapshot_source["db"], snapshot_source["table"]) == (topic, s, "t")
    binlog_source = created[101].payload["source"]
    assert binlog_source["snapshot"] is False and binlog_source["server_id"] == 101
    assert binlog_source["gtid"].startswith("0-101-") and binlog_source["file"].startswith("mysql-bin.")
    assert binlog_source["pos"] > 0 and abs(binlog_source["ts_sec"] - time.time()) < 120
    assert (binlog_source["db"], binlog_source["table"]) == (s, "t")

    update = rows[6].payload
    assert update["before"]["u8"] is None and update["after"]["u8"] == "après 😀"
    assert (update["before"]["y"], update["after"]["y"]) == (1901, 1999)
    delete = rows[7].payload
    assert delete["before"]["id"] == 2 and delete["after"] is None
    assert rows[8].value is None and rows[8].raw_key == rows[7].raw_key  # a real tombstone
    assert rows[9].payload["after"]["extra"] == "new"  # the definition after the ALTER

    creates = [d for d in ddls if d.value["position"].get("snapshot")]
    assert sorted(d.value["ddl"].split("`")[1] for d in creates) == ["nokey", "t"]
    assert all(d.value["databaseName"] == s and "CREATE TABLE" in d.value["ddl"] for d in creates)
    altered = [d for d in ddls if not d.value["position"].get("snapshot")]
    assert len(altered) == 1 and "ADD COLUMN extra" in altered[0].value["ddl"]
    assert altered[0].value["position"]["gtids"]
    assert ddls.index(altered[0]) == len(ddls) - 1  # after the snapshot's statements

    # A table without a key: dtle's empty key, and no tombstone (one key for every row).
    keyless = on(keyless_topic)
    assert [(m.key_payload, m.payload["op"]) for m in keyless] == [({}, "c"), ({}, "d")]
    assert keyless[0].payload["after"] == {"a": 1, "b": "x"}
