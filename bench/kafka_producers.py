"""kafka-python's producer against librdkafka's (confluent-kafka), alone, on the test broker.

    .venv/bin/python -m bench.kafka_producers [--records 20000] [--per-transaction 2000]

A throw-away noida-db broker (``scripts/kafka_sandbox.py``); each case sends ``--records``
records of about 2 KB with a dtle-like JSON key, idempotent and transactional, in transactions of
``--per-transaction`` records, each into a one-partition topic of its own, and prints records/s
from its first send until its last commit. Every topic is then read back ``read_committed`` and
must hold exactly the records sent. The cases: kafka-python as the sink used it (its
partitioner hashing every key), with the partition given, with 1 MB batches and 5 ms linger;
librdkafka as the sink uses it (``replication.sinks.kafka.producer.TxProducer``) but, like
the others, uncompressed.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from replication.sinks.kafka.producer import TxProducer
from scripts.kafka_sandbox import KafkaBroker

KEY = (b'{"schema":{"type":"struct","optional":false,"name":"bench.bench.items.Key","fields":'
       b'[{"type":"int64","optional":false,"field":"id"}]},"payload":{"id":%d}}')
VALUE = b"v" * 2200

Sender = Callable[[str, list[bytes], int], None]


def kafka_python(partition: bool, **settings: object) -> Sender:
    def send(topic: str, keys: list[bytes], per_tx: int) -> None:
        producer = KafkaProducer(bootstrap_servers=[BOOTSTRAP[0]], transactional_id=f"kp-{topic}",
                                 enable_idempotence=True, acks="all", **settings)
        producer.init_transactions()
        for first in range(0, len(keys), per_tx):
            producer.begin_transaction()
            for key in keys[first:first + per_tx]:
                producer.send(topic, key=key, value=VALUE, partition=0 if partition else None)
            producer.commit_transaction()
        producer.close()
    return send


def librdkafka(topic: str, keys: list[bytes], per_tx: int) -> None:
    # uncompressed, as the kafka-python cases send (the sink's default is lz4)
    producer = TxProducer([BOOTSTRAP[0]], f"rd-{topic}", 30.0, "none")
    producer.init()
    try:
        for first in range(0, len(keys), per_tx):
            producer.begin()
            for key in keys[first:first + per_tx]:
                producer.send(topic, key, VALUE)
            producer.commit()
    finally:
        producer.close()


BOOTSTRAP: list[str] = []
CASES: dict[str, Sender] = {
    "kafka-python, as the sink used it": kafka_python(False),
    "kafka-python, partition given": kafka_python(True),
    "kafka-python, partition given, 1 MB batches, 5 ms linger":
        kafka_python(True, batch_size=1 << 20, linger_ms=5),
    "librdkafka (TxProducer), as the sink uses it, uncompressed": librdkafka,
}


def committed(topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP, isolation_level="read_committed",
                             enable_auto_commit=False, receive_message_max_bytes=(1 << 31) - 1)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek(tp, 0)
    end = consumer.end_offsets([tp])[tp]
    count = 0
    while consumer.position(tp) < end:
        for batch in consumer.poll(timeout_ms=1000).values():
            count += len(batch)
    consumer.close()
    return count


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--per-transaction", type=int, default=2_000)
    args = parser.parse_args(argv)
    keys = [KEY % i for i in range(args.records)]
    with KafkaBroker() as broker:
        BOOTSTRAP[:] = [broker.bootstrap]
        topics = {name: f"producers{i}" for i, name in enumerate(CASES)}
        admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        admin.create_topics([NewTopic(t, 1, 1) for t in topics.values()])
        admin.close()
        for name, send in CASES.items():
            began = time.perf_counter()
            send(topics[name], keys, args.per_transaction)
            seconds = time.perf_counter() - began
            read = committed(topics[name])
            verdict = "exact" if read == args.records else f"MISMATCH: {read:,} read back"
            print(f"{name}: {args.records:,} records in {seconds:.2f}s = "
                  f"{args.records / seconds:,.0f} records/s (read back: {verdict})", flush=True)
            if read != args.records:
                raise SystemExit("a topic does not hold exactly the records sent")


if __name__ == "__main__":
    main()
