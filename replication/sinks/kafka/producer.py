"""The sink's producer: librdkafka (through confluent-kafka), idempotent and transactional.

librdkafka partitions, batches and sends in C threads; kafka-python did all of that in Python,
where its sender thread and its murmur2 partitioner took most of the dest's time. Partitions are
chosen as Java's default partitioner chooses them for a keyed record (``murmur2_random``:
murmur2 of the key bytes, positive, modulo the partition count), so every key of a table keeps
one partition and its order, and keys land where Kafka's own producers would put them.

Record batches are compressed with the job's ``kafka_compression`` (lz4 by default): the
messages repeat their ~1.5 KB JSON schema, lz4 shrinks a batch several times over for little
CPU in librdkafka's own threads, and the brokers store, replicate and serve that much less (the
local test broker used about a third of the CPU for the same records). Every maintained Kafka
client decodes lz4 (the Java client, librdkafka, Go's, and kafka-python with its ``lz4``
package); ``none`` sends them uncompressed.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from replication.errors import ReplicationError, Stopped, TargetError
from replication.sinks.kafka import broker

log = logging.getLogger(__name__)

# librdkafka's own queue; a full queue makes ``send`` wait for deliveries.
QUEUE_KBYTES = 64 << 10
LINGER_MS = 5
_FENCED = {KafkaError._FENCED, KafkaError.PRODUCER_FENCED,  # noqa: SLF001
           KafkaError.INVALID_PRODUCER_EPOCH}
_TOO_LARGE = {KafkaError.MSG_SIZE_TOO_LARGE}  # the brokers' refusal and librdkafka's own


def describe(topic: str, key: bytes | None) -> str:
    """What a record is, for an error message: its topic and its key's payload."""
    shown = (key or b"").decode("utf-8", "replace")
    payload = shown.rfind('"payload":')
    if payload >= 0:
        shown = shown[payload + len('"payload":'):-1]
    if len(shown) > 300:
        shown = shown[:300] + "..."
    return f"topic {topic}, key {shown}"


class TxProducer:
    """One producer of a job: transactional with ``txn_id`` (``init`` then fences older
    producers of that id and aborts what they left open), idempotent either way."""

    def __init__(self, servers: list[str], txn_id: str | None, timeout_s: float,
                 compression: str) -> None:
        self._servers = servers
        self._timeout = timeout_s
        conf: dict[str, Any] = {
            "bootstrap.servers": ",".join(servers),
            "client.id": txn_id or "dtle-producer",
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "linger.ms": LINGER_MS,
            "compression.type": compression,
            "message.max.bytes": broker.MAX_REQUEST_BYTES,
            "queue.buffering.max.kbytes": QUEUE_KBYTES,
            "request.timeout.ms": broker.CLIENT_TIMEOUT_MS,
            "message.timeout.ms": 2 * broker.CLIENT_TIMEOUT_MS,
            # One callback for the producer, called only for a refused record: a callback
            # per record doubled the cost of sending one.
            "on_delivery": self._delivered,
            "delivery.report.only.error": True,
        }
        if txn_id:
            conf["transactional.id"] = txn_id
        self._failed: list[tuple[str, KafkaError]] = []  # deliveries refused since the last end
        try:
            self._producer = Producer(conf, logger=log)
        except KafkaException as exc:
            raise self._error(exc) from exc

    # -- transactions -----------------------------------------------------------------
    def init(self) -> None:
        self._call(self._producer.init_transactions, self._timeout)

    def begin(self) -> None:
        self._failed.clear()
        self._call(self._producer.begin_transaction)

    def commit(self) -> None:
        """Deliver every record sent and commit them, waiting at most the timeout. A commit
        that timed out may still complete: the next producer's ``init`` waits for it."""
        try:
            self._producer.commit_transaction(self._timeout)
        except KafkaException as exc:
            raise self._refused() or self._error(exc) from exc
        self._raise_refused()

    def abort(self) -> None:
        self._call(self._producer.abort_transaction, self._timeout)

    def flush(self) -> None:
        """Without transactions: deliver every record sent, waiting at most the timeout."""
        left = self._producer.flush(self._timeout)
        self._raise_refused()
        if left:
            raise self._down(f"{left} records not delivered within {self._timeout:.0f}s")

    def topics(self) -> set[str]:
        """The topics the brokers have now, without errors (one metadata request)."""
        try:
            metadata = self._producer.list_topics(timeout=self._timeout)
        except KafkaException as exc:
            raise self._error(exc) from exc
        return {name for name, topic in metadata.topics.items() if topic.error is None}

    # -- records ----------------------------------------------------------------------
    def send(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key)
                return
            except BufferError:
                self._producer.poll(0.05)  # the queue is full: serve deliveries, then again
            except KafkaException as exc:
                error = exc.args[0]
                if isinstance(error, KafkaError) and error.code() in _TOO_LARGE:
                    raise TargetError(f"a message of {describe(topic, key)} is larger than Kafka "
                                      f"accepts ({len(value or b'')} bytes): {error.str()}") from exc
                raise self._error(exc) from exc

    def _delivered(self, error: KafkaError | None, message: Any) -> None:
        if error is not None:
            self._failed.append((describe(message.topic(), message.key()), error))

    def _refused(self) -> ReplicationError | None:
        """A record the brokers refused for good: a message too large fails its table."""
        for about, error in self._failed:
            if error.code() in _TOO_LARGE:
                return TargetError(f"a message of {about} is larger than the topic accepts "
                                   f"(max.message.bytes): {error.str()}")
        for _about, error in self._failed:
            if error.code() in _FENCED:
                return self._fenced(error)
        return None

    def _raise_refused(self) -> None:
        refused = self._refused()
        if refused is not None:
            raise refused
        if self._failed:
            _about, error = self._failed[0]
            raise self._down(error.str())

    # -- errors -----------------------------------------------------------------------
    def _call(self, method: Any, *args: Any) -> None:
        try:
            method(*args)
        except KafkaException as exc:
            raise self._error(exc) from exc

    def _down(self, reason: str) -> broker.BrokerDown:
        return broker.BrokerDown(f"Kafka brokers {','.join(self._servers)}: {reason}")

    def _fenced(self, error: KafkaError) -> Stopped:
        return Stopped(f"another dest task of this job publishes now ({error.name()})")

    def _error(self, exc: KafkaException) -> ReplicationError:
        """Fenced out by a newer producer of the job (stop), or the brokers being unavailable
        or refusing for a reason that passes (wait and retry)."""
        error = exc.args[0] if exc.args else None
        if isinstance(error, KafkaError):
            if error.code() in _FENCED:
                return self._fenced(error)
            return self._down(error.str())
        return self._down(str(exc))

    def close(self) -> None:
        """Drop the producer without waiting for brokers: what it holds is discarded (its
        open transaction is aborted by the next producer of the id, or times out)."""
        try:
            self._producer.purge(in_queue=True, in_flight=True, blocking=False)
            self._producer.poll(0)
        except (KafkaException, RuntimeError):
            pass
        self._failed.clear()
        del self._producer
