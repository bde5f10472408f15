"""Talking to the job's Kafka brokers: clients, topic names, topic creation, reading back.

kafka-python is the client for topic creation, reading back and the schema history's few
records. The sink publishes through librdkafka (``producer.TxProducer``), whose transactional
producer (KIP-98) is what makes it exactly once: every batch of messages and the job's
checkpoint record commit in one Kafka transaction, and a new producer with the same
``transactional_id`` fences a stale one out (its open transaction is aborted).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Iterable
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (
    InvalidProducerEpochError,
    KafkaError,
    ProducerFencedError,
    TopicAlreadyExistsError,
)

from replication.config import KafkaDestTaskConfig
from replication.errors import ConnectError, ReplicationError, Stopped

log = logging.getLogger(__name__)

# Broker-side limit the producer is configured against; a record above it fails its table.
MAX_REQUEST_BYTES = 8 << 20
CLIENT_TIMEOUT_MS = 15_000
_TOPIC_CHARS = re.compile(r"[^a-zA-Z0-9._-]")


def bootstrap(cfg: KafkaDestTaskConfig) -> list[str]:
    return list(cfg.kafka_broker_addrs)


def safe_name(text: str) -> str:
    """``text`` as a legal topic name part; a short hash keeps changed names distinct."""
    cleaned = _TOPIC_CHARS.sub("_", text)
    if cleaned == text:
        return text
    return f"{cleaned}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def checkpoint_topic(job_id: str) -> str:
    """One compacted topic per job: its checkpoint record is the last record there."""
    return f"dtle.checkpoint.{safe_name(job_id)}"


def history_topic(job_id: str) -> str:
    """One compacted topic per job: its table definitions over time (schema history)."""
    return f"dtle.schema-history.{safe_name(job_id)}"


def transactional_id(job_id: str) -> str:
    return f"dtle-{job_id}"


class BrokerDown(ConnectError):
    """The brokers did not answer or refused for a reason that passes (the sink waits)."""


def connect_error(exc: BaseException, servers: list[str]) -> ReplicationError:
    """What a Kafka client error means for the task: fenced out by a newer producer of the
    job (stop), or the brokers being unavailable (wait and retry)."""
    if isinstance(exc, (ProducerFencedError, InvalidProducerEpochError)):
        return Stopped(f"another dest task of this job publishes now ({type(exc).__name__})")
    return BrokerDown(f"Kafka brokers {','.join(servers)}: {type(exc).__name__}: {exc}")


def admin(servers: list[str]) -> KafkaAdminClient:
    try:
        return KafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=CLIENT_TIMEOUT_MS,
                                client_id="dtle-admin")
    except KafkaError as exc:
        raise connect_error(exc, servers) from exc


def producer(servers: list[str], txn_id: str | None, linger_ms: int = 0) -> KafkaProducer:
    """A producer that keeps each partition's order: idempotent, and transactional with an
    id (then ``init_transactions`` fences older producers of that id)."""
    try:
        return KafkaProducer(
            bootstrap_servers=servers, transactional_id=txn_id, enable_idempotence=True,
            acks="all", linger_ms=linger_ms, max_request_size=MAX_REQUEST_BYTES,
            request_timeout_ms=CLIENT_TIMEOUT_MS, max_block_ms=CLIENT_TIMEOUT_MS,
            delivery_timeout_ms=2 * CLIENT_TIMEOUT_MS,
            client_id=txn_id or "dtle-producer")
    except KafkaError as exc:
        raise connect_error(exc, servers) from exc


class TopicMaker:
    """Creates topics the first time they are needed (one admin round trip per new name)."""

    def __init__(self, servers: list[str]) -> None:
        self._servers = servers
        self._known: set[str] = set()
        self._admin: KafkaAdminClient | None = None

    def exist(self, names: Iterable[str]) -> None:
        """``names`` exist already (from a producer's metadata): ``ensure`` skips them."""
        self._known.update(names)

    def ensure(self, names: Iterable[str], compacted: bool = False) -> None:
        missing = [n for n in dict.fromkeys(names) if n not in self._known]
        if not missing:
            return
        try:
            self._create(missing, compacted)
        except KafkaError as exc:
            self.close()
            raise connect_error(exc, self._servers) from exc
        self._known.update(missing)

    def _create(self, missing: list[str], compacted: bool) -> None:
        if self._admin is None:
            self._admin = admin(self._servers)
        existing = set(self._admin.list_topics())
        new = [n for n in missing if n not in existing]
        if new:
            configs = {"cleanup.policy": "compact"} if compacted else {}
            try:
                self._admin.create_topics([NewTopic(n, 1, 1, topic_configs=configs) for n in new])
                log.info("created Kafka topics %s", ", ".join(new))
            except TopicAlreadyExistsError:
                pass  # another task made it meanwhile
            self._wait_for(new)

    def _wait_for(self, names: list[str]) -> None:
        deadline = time.monotonic() + CLIENT_TIMEOUT_MS / 1000
        assert self._admin is not None
        while time.monotonic() < deadline:
            if set(names) <= set(self._admin.list_topics()):
                return
            time.sleep(0.05)

    def close(self) -> None:
        if self._admin is not None:
            try:
                self._admin.close()
            except KafkaError:
                pass
            self._admin = None


def _consumer(servers: list[str]) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=servers, isolation_level="read_committed",
                         enable_auto_commit=False, group_id=None,
                         request_timeout_ms=CLIENT_TIMEOUT_MS + 1000,
                         fetch_max_wait_ms=50, max_partition_fetch_bytes=MAX_REQUEST_BYTES)


def read_topic(servers: list[str], topic: str, tail: int | None = None,
               partition: int = 0) -> list[Any]:
    """The committed records of one partition of a topic (only its last ``tail`` offsets when
    given), oldest first; [] when the topic does not exist."""
    try:
        consumer = _consumer(servers)
    except KafkaError as exc:
        raise connect_error(exc, servers) from exc
    try:
        if not consumer.partitions_for_topic(topic):
            return []
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        end = consumer.end_offsets([tp])[tp]  # the last stable offset under read_committed
        start = consumer.beginning_offsets([tp])[tp]
        if tail is not None:
            start = max(start, end - tail)
        consumer.seek(tp, start)
        records: list[Any] = []
        deadline = time.monotonic() + CLIENT_TIMEOUT_MS / 1000
        while consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise BrokerDown(f"reading Kafka topic {topic} timed out at offset "
                                   f"{consumer.position(tp)} of {end}")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(r for r in batch if r.offset < end)
        return records
    except KafkaError as exc:
        raise connect_error(exc, servers) from exc
    finally:
        consumer.close()
