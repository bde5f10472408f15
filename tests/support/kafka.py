"""Helpers for the subscription tests: Kafka jobs, and reading topics as a consumer would."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer

from replication.config import (
    JobConfig,
    JobType,
    KafkaDestTaskConfig,
    SchemaRule,
    SrcTaskConfig,
)
from scripts.kafka_sandbox import KafkaBroker
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.incremental import conn_cfg


def kafka_job(job_id: str, source: MariaDBServer, broker: KafkaBroker, schema: str, topic: str,
              dest: dict[str, Any] | None = None, **src: Any) -> JobConfig:
    return JobConfig(
        job_id=job_id, job_name=job_id, job_type=JobType.SUBSCRIPTION,
        src_task=SrcTaskConfig(mysql_connection_config=conn_cfg(source),
                               replicate_do_db=(SchemaRule(table_schema=schema),), **src),
        dest_task=KafkaDestTaskConfig(kafka_broker_addrs=(broker.bootstrap,), kafka_topic=topic,
                                      **(dest or {})),
    )


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: Any  # parsed JSON (None for a null key)
    value: Any  # parsed JSON; None for a tombstone
    raw_key: bytes | None

    @property
    def payload(self) -> Any:
        return self.value.get("payload") if isinstance(self.value, dict) else None

    @property
    def key_payload(self) -> Any:
        return self.key["payload"] if isinstance(self.key, dict) else self.key


def message_of(r: Any) -> Message:
    """A consumer record with its JSON key and value parsed."""
    return Message(r.topic, r.partition, r.offset,
                   json.loads(r.key) if r.key is not None else None,
                   json.loads(r.value) if r.value is not None else None, r.key)


class TopicReader:
    """A consumer group member reading committed messages of some topics, as a user would."""

    def __init__(self, broker: KafkaBroker, topics: list[str]) -> None:
        self._consumer = KafkaConsumer(
            *topics, bootstrap_servers=[broker.bootstrap], group_id=f"g-{uuid.uuid4().hex[:8]}",
            isolation_level="read_committed", auto_offset_reset="earliest",
            enable_auto_commit=True, metadata_max_age_ms=500)
        self.messages: list[Message] = []

    def poll(self, seconds: float = 0.5) -> list[Message]:
        new = []
        for batch in self._consumer.poll(timeout_ms=int(seconds * 1000)).values():
            new.extend(message_of(r) for r in batch)
        self.messages.extend(new)
        return new

    def read_until(self, done: Any, timeout: float = 60.0, errors: Any = None) -> list[Message]:
        """Poll until ``done(messages)``; fails with what arrived after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not done(self.messages):
            if errors is not None:
                errors()
            if time.monotonic() > deadline:
                last = [(m.topic, m.key_payload, m.payload and m.payload.get("op"))
                        for m in self.messages[-10:]]
                raise AssertionError(f"{len(self.messages)} messages, the last: {last!r}")
            self.poll()
        return self.messages

    def settle(self, seconds: float = 2.0) -> list[Message]:
        """Read on until nothing new arrived for ``seconds`` (to see that nothing extra came)."""
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < seconds:
            if self.poll(0.3):
                quiet_since = time.monotonic()
        return self.messages

    def close(self) -> None:
        self._consumer.close()
