"""Where a subscription's CPU goes per stage, in one process, against the bare binlog read.

    .venv/bin/python -m bench.subscription_stages [--transactions 500] [--rows-per-tx 100]

A throw-away MariaDB source holds ``bench.items`` (the table of ``bench.subscription``); the
bench writes the UPDATE transactions, then times, in this process and in CPU seconds, each
stage a change passes through on its way to Kafka:

- the bare binlog read (the project's reader decoding every row: the reference), and the same
  read with the row images left undecoded (what the reading itself costs);
- the transport: encoding the decoded transactions in groups of 50, then decoding them;
- the Debezium envelope of every row change (key and value JSON);
- handing every record to librdkafka (``produce`` into its queue; its threads' sending is not
  counted: no broker is reached).

Each stage is printed with its ratio to the bare read. ``bench.subscription`` measures the whole
job (each process's CPU too); this one says which stage of it costs what.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer

from bench.subscription import SCHEMA, TABLE, load, point, read_range, write_updates
from replication.sinks.kafka.records import Record, RecordMaker
from replication.source import binlog
from replication.source.schema import ColumnDef, TableDef
from replication.wire import codec
from replication.wire.changes import RowEvent, Transaction, TransactionGroup
from scripts.mariadb_sandbox import MariaDBServer

# bench.items as the schema history knows it (``CREATE`` in bench.subscription says the same)
ITEMS = TableDef(SCHEMA, TABLE, (
    ColumnDef("id", "bigint", column_type="bigint(20)", nullable=False),
    ColumnDef("k", "int", column_type="int(11)", nullable=False),
    ColumnDef("c", "varchar", charset="utf8mb4", column_type="varchar(60)"),
    ColumnDef("amount", "decimal", column_type="decimal(12,2)"),
    ColumnDef("at", "datetime", column_type="datetime(3)")), key=("id",))
GROUP = 50  # transactions per transport message


def cpu(action: Callable[[], Any]) -> tuple[float, Any]:
    began = time.process_time()
    result = action()
    return time.process_time() - began, result


def read(server: MariaDBServer, start: Any, end: Any, decode: bool) -> list[Transaction]:
    """The range's transactions through the project's reader, the row images decoded or not."""
    decode_rows = binlog.decode_rows
    if not decode:
        binlog.decode_rows = lambda body, plan, images: [body]  # type: ignore[assignment]
    try:
        return list(read_range(server, start, end))
    finally:
        binlog.decode_rows = decode_rows


def records(groups: list[TransactionGroup]) -> list[Record]:
    maker = RecordMaker("benchsub", True)
    out: list[Record] = []
    names = [c.name for c in ITEMS.columns]
    for group in groups:
        for tx in group.transactions:
            for change in tx.changes:
                if isinstance(change, RowEvent):
                    change.columns = names  # the src's schema tracker names them
                    out.extend(maker.rows(tx, change, ITEMS))
    return out


def produce(recs: list[Record]) -> None:
    producer = Producer({"bootstrap.servers": "127.0.0.1:9", "compression.type": "lz4",
                         "queue.buffering.max.messages": len(recs) + 1,
                         "queue.buffering.max.kbytes": 4 << 20, "log_level": 0})
    for r in recs:
        producer.produce(r.topic, r.value, r.key)
    producer.purge()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=500)
    parser.add_argument("--rows-per-tx", type=int, default=100)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the table")
    args = parser.parse_args(argv)
    logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)
    with MariaDBServer(server_id=212) as server:
        load(server, args.rows)
        start = point(server)
        changes = write_updates(server, args.transactions, args.rows_per_tx, args.rows, 1)
        end = point(server)
        bare, txs = cpu(lambda: read(server, start, end, True))
        undecoded, _ = cpu(lambda: read(server, start, end, False))
    groups = [TransactionGroup(txs[i:i + GROUP], start.position) for i in range(0, len(txs), GROUP)]
    encoding, blobs = cpu(lambda: [codec.encode(g) for g in groups])
    decoding, received = cpu(lambda: [codec.decode(b) for b in blobs])
    envelope, recs = cpu(lambda: records(received))
    if len(recs) != changes:
        raise SystemExit(f"{len(recs)} records for {changes} row changes")
    producing, _ = cpu(lambda: produce(recs))
    print(f"{args.transactions:,} transactions of {args.rows_per_tx} UPDATEd rows: {changes:,} row "
          f"changes; CPU seconds in this process, and the ratio to the bare read\n"
          f"| stage | CPU s | / bare read |\n|---|---|---|")
    value_bytes = sum(len(r.value or b"") for r in recs) / len(recs)
    for label, seconds in (("bare binlog read (rows decoded): the reference", bare),
                           ("the same read, row images not decoded", undecoded),
                           (f"transport encoding ({sum(map(len, blobs)) / 1e6:.1f} MB)", encoding),
                           ("transport decoding", decoding),
                           (f"Debezium envelope (key + value, {value_bytes:,.0f} bytes a value)", envelope),
                           ("librdkafka produce() calls", producing)):
        print(f"| {label} | {seconds:.2f} | {seconds / bare:.2f} |")


if __name__ == "__main__":
    main()
