"""A subscription through a broker outage (it waits, says why, and resumes without loss or
duplicate) and a row too large for its topic (the job fails naming the table and key)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import redis
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from replication.errors import TargetError
from replication.runners import DestRunner, SrcRunner
from replication.sinks.kafka.broker import read_topic
from scripts.cluster import wait_for
from scripts.kafka_sandbox import KafkaBroker
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.incremental import Running, start_runner
from tests.support.kafka import kafka_job


def _ids(broker: KafkaBroker, topic: str) -> list[int]:
    ids = []
    for record in read_topic([broker.bootstrap], topic):
        if record.value is not None:
            ids.append(json.loads(record.value)["payload"]["after"]["id"])
    return ids


def _wait(check: Callable[[], bool], timeout: float, what: str, *runners: Running) -> None:
    """``wait_for`` that fails at once when one of ``runners`` failed."""
    def done() -> bool:
        for r in runners:
            assert not r.error, r.error
        return check()
    wait_for(done, timeout, what, interval=0.3)


def test_a_broker_outage_is_waited_out_and_nothing_is_lost_or_doubled(
        source_server: MariaDBServer, redis_client: redis.Redis, job_id: str,
        fresh_schema: str) -> None:
    s, topic = fresh_schema, f"out{uuid.uuid4().hex[:8]}"
    source_server.execute(f"CREATE DATABASE `{s}`")
    source_server.execute(f"CREATE TABLE `{s}`.t (id INT PRIMARY KEY, v VARCHAR(20))")
    source_server.execute(f"INSERT INTO `{s}`.t VALUES " + ", ".join(f"({i}, 'a')" for i in range(1, 6)))
    rows = f"{topic}.{s}.t"
    with KafkaBroker() as broker:
        job = kafka_job(job_id, source_server, broker, s, topic)
        src = start_runner(SrcRunner, job, redis_client)
        dest = start_runner(DestRunner, job, redis_client)
        try:
            _wait(lambda: _ids(broker, rows) == [1, 2, 3, 4, 5], 60, "the snapshot", src, dest)
            broker.stop()
            for i in range(6, 16):
                source_server.execute(f"INSERT INTO `{s}`.t VALUES ({i}, 'b')")
            _wait(lambda: any("Kafka unavailable" in m for _, m in dest.events), 90,
                  "the dest to report the outage", src, dest)
            first = dest.ctx.stats.stage
            assert first.startswith("Kafka unavailable")
            # A retry failed too: the next wait is announced with a doubled back-off.
            _wait(lambda: dest.ctx.stats.stage.startswith("Kafka unavailable")
                  and dest.ctx.stats.stage != first, 60, "a second back-off", src, dest)
            broker.start()
            _wait(lambda: _ids(broker, rows) == list(range(1, 16)), 120,
                  "the changes after the outage, once each", src, dest)
            assert any("reachable again" in m for _, m in dest.events)
        finally:
            src.stop(30)
            dest.stop(30)
    assert not src.error and not dest.error, (src.error, dest.error)


def test_a_row_larger_than_its_topic_accepts_fails_the_job_naming_table_and_key(
        source_server: MariaDBServer, kafka_broker: KafkaBroker, redis_client: redis.Redis,
        job_id: str, fresh_schema: str) -> None:
    s, topic = fresh_schema, f"big{uuid.uuid4().hex[:8]}"
    source_server.execute(f"CREATE DATABASE `{s}`")
    source_server.execute(f"CREATE TABLE `{s}`.big (id INT PRIMARY KEY, b LONGBLOB)")
    source_server.execute(f"INSERT INTO `{s}`.big VALUES (1, 'small')")
    admin = KafkaAdminClient(bootstrap_servers=[kafka_broker.bootstrap])
    admin.create_topics([NewTopic(f"{topic}.{s}.big", 1, 1,
                                  topic_configs={"max.message.bytes": "20000"})])
    admin.close()
    job = kafka_job(job_id, source_server, kafka_broker, s, topic)
    src = start_runner(SrcRunner, job, redis_client)
    dest = start_runner(DestRunner, job, redis_client)
    try:
        _wait(lambda: _ids(kafka_broker, f"{topic}.{s}.big") == [1], 60, "the snapshot", src, dest)
        # 100 KB of hex digests: too large for the topic even lz4-compressed (a run of one
        # letter would shrink below the limit)
        source_server.execute(f"INSERT INTO `{s}`.big SELECT 2, GROUP_CONCAT(SHA2(seq, 512) "
                              f"SEPARATOR '') FROM `{s}`.seq_1_to_800")
        wait_for(lambda: dest.error, 60, "the dest to fail", interval=0.3)
    finally:
        src.stop(30)
        dest.stop(30)
    error = dest.error[0]
    assert isinstance(error, TargetError), error
    assert f"{s}.big" in str(error) and '"id":2' in str(error) and "max.message.bytes" in str(error)
    assert _ids(kafka_broker, f"{topic}.{s}.big") == [1]  # nothing of the failed batch
