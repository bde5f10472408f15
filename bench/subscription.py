"""A subscription job to Kafka through what users run, against the bare binlog read rate of the
same source in the same run.

    .venv/bin/python -m bench.subscription [--redis redis://127.0.0.1:6379/14] [--quick]

A throw-away MariaDB source, a Kafka-protocol broker (``scripts/kafka_sandbox.py``) and a real
cluster (the API, beat and two Celery worker nodes as processes) on a Redis database of its own,
which the bench flushes. One subscription job is created over HTTP with default settings:

1. snapshot: the ``bench.items`` table (``--rows``) is copied to Kafka; timed from the job's
   creation until the job's committed checkpoint says the full copy is done;
2. changes, per shape (``--hundred-row`` 100-row UPDATE transactions, ``--one-row`` one-row
   UPDATE transactions): pause the job, write, resume, and time until the committed checkpoint
   holds the last transaction;
3. the references, in this process right after the writes: the same binlog range read by the
   project's binlog reader alone (decoding every row, no transport, no Kafka), which is the
   job's own first stage; and by mysql-replication's ``BinLogStreamReader`` alone (every row's
   values decoded), the plain reading of the binlog that the stack's library gives any Python
   program.

Each rate is printed with its ratio to both bare read rates. Every message is then read back with
a ``read_committed`` consumer (not timed): the counts of snapshot creates and updates must be
exactly what was written. Each worker's resident memory is sampled during every phase; the
change shapes run again with other ``repl_chan_buffer_size`` values (``--buffers``) to show the
memory each buffer size takes.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from bench.harness import (
    ApiJob,
    CpuMeter,
    bench_parser,
    bench_workdir,
    process_tree,
    rss_mb,
    start_cluster,
    start_profile,
    stop_profile,
    wait_incremental,
    with_roles,
)
from replication.config import MySQLConnectionConfig
from replication.gtid import GtidSet
from replication.position import BinlogPosition
from replication.sinks.kafka.envelope import topic_for
from replication.sinks.kafka.resume import load_checkpoint
from replication.source.binlog import BinlogReader
from replication.stop import ManualStop
from replication.wire.changes import Transaction
from scripts.cluster import Cluster, wait_for
from scripts.kafka_sandbox import KafkaBroker
from scripts.mariadb_sandbox import MariaDBServer

SCHEMA, TABLE, TOPIC = "bench", "items", "benchsub"
CREATE = ("CREATE TABLE items (id BIGINT PRIMARY KEY, k INT NOT NULL, c VARCHAR(60), "
          "amount DECIMAL(12,2), at DATETIME(3))")


# -- the source and its binlog -----------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    position: BinlogPosition  # file, pos and the executed GTID set at this point
    seq: int  # domain 0's last sequence number


def point(server: MariaDBServer) -> Point:
    row = server.execute("SHOW MASTER STATUS")[0]
    gtid = str(server.execute("SELECT @@gtid_binlog_pos")[0][0] or "")
    seq = int(gtid.split(",")[0].rpartition("-")[2]) if gtid else 0
    return Point(BinlogPosition(str(row[0]), int(str(row[1])), gtid), seq)


def load(server: MariaDBServer, rows: int) -> None:
    server.execute(f"CREATE DATABASE {SCHEMA}")
    conn = server.connect(database=SCHEMA)
    with conn.cursor() as cur:
        cur.execute(CREATE)
        cur.execute("INSERT INTO items SELECT seq, seq, CONCAT('item ', seq, ' ', REPEAT('x', 30)), "
                    f"seq / 100, '2024-01-01' + INTERVAL seq SECOND FROM seq_1_to_{rows}")
    conn.commit()
    conn.close()


def write_updates(server: MariaDBServer, transactions: int, rows_per_tx: int, rows: int,
                  round_: int) -> int:
    """UPDATE transactions of ``rows_per_tx`` consecutive rows each; row changes written."""
    conn = server.connect(database=SCHEMA)
    written = 0
    with conn.cursor() as cur:
        for i in range(transactions):
            first = (i * rows_per_tx) % max(rows - rows_per_tx, 1) + 1
            cur.execute("UPDATE items SET k = k + 1, amount = amount + 0.01, "
                        f"at = at + INTERVAL {round_} SECOND WHERE id BETWEEN %s AND %s",
                        (first, first + rows_per_tx - 1))
            conn.commit()
            written += rows_per_tx
    conn.close()
    return written


def read_range(server: MariaDBServer, start: Point, end: Point) -> Iterator[Transaction]:
    """Every transaction of ``start..end``, through the project's binlog reader alone."""
    cfg = MySQLConnectionConfig("127.0.0.1", server.port, "root", "")
    reader = BinlogReader(cfg, 4999, start.position, True, ManualStop(), heartbeat=0.2)
    last = f"0-{server.server_id}-{end.seq}"
    try:
        for tx in reader.transactions():
            if tx is None:
                raise SystemExit("the bare read reached the end of the binlog before its last "
                                 "transaction")
            yield tx
            if tx.gtid == last:
                return
    finally:
        reader.close()


def bare_read(server: MariaDBServer, start: Point, end: Point) -> tuple[float, int, float]:
    """Seconds, rows and CPU seconds (this process's) of the project's binlog reader alone
    over ``start..end``."""
    rows = 0
    began, cpu = time.perf_counter(), time.process_time()
    for tx in read_range(server, start, end):
        rows += tx.row_count
    return time.perf_counter() - began, rows, time.process_time() - cpu


def library_read(server: MariaDBServer, start: Point, end: Point) -> tuple[float, int]:
    """Seconds and rows of mysql-replication's ``BinLogStreamReader`` alone over ``start..end``,
    every row event's values decoded."""
    stream = BinLogStreamReader(
        {"host": "127.0.0.1", "port": server.port, "user": "root", "passwd": ""}, server_id=4998,
        log_file=start.position.file, log_pos=start.position.pos, resume_stream=True,
        blocking=False,
        only_events=[WriteRowsEvent, UpdateRowsEvent, DeleteRowsEvent])
    rows = 0
    began = time.perf_counter()
    try:
        for event in stream:  # the range is the binlog's end unless later writes followed it
            if (stream.log_file, stream.log_pos) > (end.position.file, end.position.pos):
                break
            rows += len(event.rows)
    finally:
        stream.close()
    return time.perf_counter() - began, rows


# -- memory ------------------------------------------------------------------------------------
class RssSampler:
    """The largest resident set of any process of each worker, sampled every 0.2 s."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self._stop = threading.Event()
        self.peaks: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            for name, proc in self._cluster.workers.items():
                largest = max((rss_mb(p) for p in process_tree(proc.pid)), default=0.0)
                self.peaks[name] = max(self.peaks.get(name, 0.0), largest)

    def describe(self) -> str:
        return ", ".join(f"{k} {v:.0f} MB" for k, v in sorted(self.peaks.items()))


# -- the job -------------------------------------------------------------------------------------
class Subscription(ApiJob):
    route = "/v2/job/subscription"

    def __init__(self, cluster: Cluster, source: MariaDBServer, broker: KafkaBroker) -> None:
        self.servers = [broker.bootstrap]
        super().__init__(cluster, {
            "job_name": "benchsub",
            "src_task": {"mysql_connection_config": source.connection_config(),
                         "replicate_do_db": [{"table_schema": SCHEMA}]},
            "dest_task": {"kafka_broker_addrs": self.servers, "kafka_topic": TOPIC},
        })

    def create(self) -> None:
        self.job_id = self.cluster.post(self.route, self.config)["job"]["job_id"]

    def checkpoint(self) -> Any:
        return load_checkpoint(self.servers, self.job_id)

    def copied(self) -> bool:
        cp = self.checkpoint()
        return cp is not None and cp.done is not None

    def published(self, seq: int, server_id: int) -> bool:
        cp = self.checkpoint()
        if cp is None or cp.position is None or not cp.position.gtid_set:
            return False
        return f"0-{server_id}-{seq}" in GtidSet.parse(cp.position.gtid_set, True)


def read_back(servers: list[str], expected: int) -> tuple[dict[str, int], str]:
    """Every committed message of the table's topic, counted by kind, and where the reading
    stopped: every partition assigned and read from its start until the consumer's position
    reaches the partition's last stable offset (what ``read_committed`` may read), or nothing
    new came for 60 s.

    The test broker answers a fetch with everything from the fetch offset to the end of the
    partition, whatever the request's byte limits; the full run's topic is far larger than
    kafka-python's default 100 MB limit of one response, which it refuses by dropping the
    connection (and the reading then never moves), so the consumer takes responses up to the
    protocol's limit."""
    topic = topic_for(TOPIC, SCHEMA, TABLE)
    consumer = KafkaConsumer(bootstrap_servers=servers, isolation_level="read_committed",
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             max_partition_fetch_bytes=8 << 20,
                             receive_message_max_bytes=(1 << 31) - 1)
    ids = wait_for(lambda: consumer.partitions_for_topic(topic), 60, f"the partitions of {topic}")
    partitions = [TopicPartition(topic, p) for p in sorted(ids)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    counts = {"snapshot": 0, "c": 0, "u": 0, "d": 0, "tombstone": 0}
    seen, quiet_since = 0, time.monotonic()
    while (any(consumer.position(tp) < ends[tp] for tp in partitions)
           and time.monotonic() - quiet_since < 60):
        for batch in consumer.poll(timeout_ms=1000).values():
            quiet_since = time.monotonic()
            for record in batch:
                seen += 1
                if record.value is None:
                    counts["tombstone"] += 1
                    continue
                payload = orjson.loads(record.value)["payload"]
                counts["snapshot" if payload["source"]["snapshot"] else payload["op"]] += 1
    where = ", ".join(f"partition {tp.partition} at {consumer.position(tp)} of {ends[tp]}"
                      for tp in partitions)
    consumer.close()
    return counts, f"{seen:,} of {expected:,} messages; {where}"


# -- the bench ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    label: str
    rate: float
    bare: float | None  # None: compared with the best bare read of the run
    library: float | None  # the same for mysql-replication's reader
    rss: str


class Bench:
    def __init__(self, args: argparse.Namespace, source: MariaDBServer, cluster: Cluster,
                 job: Subscription, others: dict[str, int]) -> None:
        self.args, self.source, self.cluster, self.job = args, source, cluster, job
        self.others = others  # the processes beside the workers whose CPU time is counted
        self.summary: list[Line] = []
        self.updates = 0
        self.rounds = 0
        self.reference: list[float] = []
        self.library: list[float] = []

    def meter(self) -> CpuMeter:
        """CPU seconds of both workers (the task processes apart), the source server, the
        broker and Redis."""
        groups = {f"worker {name}": proc.pid for name, proc in self.cluster.workers.items()}
        return CpuMeter({**groups, **self.others}).start()

    def cpu_line(self, meter: CpuMeter) -> str:
        used = with_roles(meter.stop(), self.job)
        return (", ".join(f"{k} {v:.2f}" for k, v in used.items() if v >= 0.005)
                + f"; all {sum(used.values()):.2f}")

    def snapshot(self) -> None:
        rows = self.args.rows
        with RssSampler(self.cluster) as rss:
            meter = self.meter()
            began = time.perf_counter()
            self.job.create()
            wait_for(self.job.copied, 1800, "the full copy to Kafka", interval=0.1)
            seconds = time.perf_counter() - began
            cpu = self.cpu_line(meter)
        rate = rows / seconds
        print(f"\nsnapshot: {rows:,} rows to Kafka in {seconds:.2f}s from the job's creation = "
              f"{rate:,.0f} rows/s; peak RSS {rss.describe()}\n  CPU seconds: {cpu}", flush=True)
        self.summary.append(Line("snapshot", rate, None, None, rss.describe()))

    def changes(self, label: str, transactions: int, rows_per_tx: int, buffer: str) -> None:
        job, source = self.job, self.source
        job.pause()
        start = point(source)
        self.rounds += 1
        wrote = time.perf_counter()
        rows = write_updates(source, transactions, rows_per_tx, self.args.rows, self.rounds)
        wrote = time.perf_counter() - wrote
        end = point(source)
        self.updates += rows
        read_seconds, read_rows, read_cpu = bare_read(source, start, end)
        if read_rows != rows:
            raise SystemExit(f"the bare read saw {read_rows} rows, {rows} were written")
        bare = rows / read_seconds
        self.reference.append(bare)
        lib_seconds, lib_rows = library_read(source, start, end)
        if lib_rows != rows:
            raise SystemExit(f"mysql-replication's read saw {lib_rows} rows, {rows} were written")
        library = rows / lib_seconds
        self.library.append(library)
        # py-spy raw stacks (CPU only) of both workers while the shape catches up (--profile)
        profilers = start_profile(self.cluster, self.args.profile,
                                  f"{label.split()[1]}-{buffer.split()[0]}", ["--gil"])
        with RssSampler(self.cluster) as rss:
            meter = self.meter()
            began = time.perf_counter()
            job.resume()
            wait_for(lambda: job.published(end.seq, source.server_id), 1800,
                     f"{label}: the last transaction on Kafka", interval=0.05)
            seconds = time.perf_counter() - began
            cpu = self.cpu_line(meter)
        stop_profile(profilers, 30)
        ours = rows / seconds
        print(f"\n{label} (repl_chan_buffer_size {buffer}): {transactions:,} transactions, {rows:,} "
              f"row changes written in {wrote:.1f}s\n"
              f"  project (job over the API to Kafka): {seconds:.2f}s from resume = "
              f"{ours:,.0f} row changes/s\n"
              f"  bare binlog read (the project's reader alone): {read_seconds:.2f}s = {bare:,.0f} rows/s"
              f" ({read_cpu:.2f} CPU seconds)\n"
              f"  ratio: {ours / bare:.2f}\n"
              f"  bare binlog read (mysql-replication's BinLogStreamReader alone): {lib_seconds:.2f}s = "
              f"{library:,.0f} rows/s\n  ratio: {ours / library:.2f}\n"
              f"  peak RSS while catching up: {rss.describe()}\n"
              f"  CPU seconds while catching up: {cpu}", flush=True)
        self.summary.append(Line(f"{label}, buffer {buffer}", ours, bare, library, rss.describe()))

    def verify(self) -> None:
        expected = {"snapshot": self.args.rows, "c": 0, "u": self.updates, "d": 0, "tombstone": 0}
        counts, where = read_back(self.job.servers, sum(expected.values()))
        verdict = "exact" if counts == expected else f"MISMATCH, expected {expected}"
        print(f"\nread back (read_committed): {counts} ({verdict}); {where}", flush=True)
        if counts != expected:
            raise SystemExit("the topic does not hold exactly the written rows")

    def report(self) -> None:
        best, best_library = max(self.reference, default=0.0), max(self.library, default=0.0)
        print("\n| phase | project (rows/s) | the project's reader alone (rows/s) | ratio | "
              "mysql-replication alone (rows/s) | ratio | peak RSS per worker |\n"
              "|---|---|---|---|---|---|---|")
        for line in self.summary:
            cells = []
            for rate, best_rate in ((line.bare, best), (line.library, best_library)):
                reference = rate if rate is not None else best_rate
                shown = f"{reference:,.0f}" + ("" if rate is not None else " (best of the run)")
                cells.append(f"{shown} | {line.rate / reference if reference else 0:.2f}")
            print(f"| {line.label} | {line.rate:,.0f} | {' | '.join(cells)} | {line.rss} |")
        print("(2-core machine; same-run ratios are what to compare)")


def run(args: argparse.Namespace, bench: Bench) -> None:
    bench.snapshot()
    wait_incremental(bench.cluster, bench.job.job_id, 600)
    buffers = [None, *args.buffers]
    for buffer in buffers:
        if buffer is not None:
            bench.job.update("src", repl_chan_buffer_size=buffer)
        shown = "32 (default)" if buffer is None else str(buffer)
        if args.hundred_row:
            bench.changes(f"{args.hundred_row:,} 100-row transactions", args.hundred_row, 100, shown)
        if args.one_row:
            bench.changes(f"{args.one_row:,} one-row transactions", args.one_row, 1, shown)
    bench.job.resume()
    bench.verify()
    bench.report()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(__doc__ or "")
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the snapshot")
    parser.add_argument("--hundred-row", type=int, default=500, help="100-row transactions (0: skip)")
    parser.add_argument("--one-row", type=int, default=5_000, help="one-row transactions (0: skip)")
    parser.add_argument("--buffers", type=int, nargs="*", default=[4, 128],
                        help="then every change shape again with these repl_chan_buffer_size values")
    parser.add_argument("--quick", action="store_true", help="a fifth of every amount, for a smoke run")
    parser.add_argument("--profile", metavar="DIR", help="py-spy raw stacks (CPU only) of both workers "
                                                          "per change shape")
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.hundred_row, args.one_row = args.rows // 5, args.hundred_row // 5, args.one_row // 5
    return args


def main(argv: list[str] | None = None) -> None:
    import redis

    args = parse_args(argv)
    # The bare read's library warns that the source lacks FULL row metadata (the src reads it
    # with the schema history, as here without names).
    logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)
    redis.Redis.from_url(args.redis).flushdb()
    with ExitStack() as stack:
        source = stack.enter_context(MariaDBServer(server_id=211))
        broker = stack.enter_context(KafkaBroker())
        workdir = bench_workdir(stack, args.workdir)
        load(source, args.rows)
        cluster = start_cluster(workdir, args.redis)
        stack.callback(cluster.stop)
        print(f"cluster up (API {cluster.base_url}, workers {', '.join(cluster.workers)}), broker "
              f"{broker.bootstrap}; snapshot of {args.rows:,} rows...", flush=True)
        job = Subscription(cluster, source, broker)
        others = {"source mariadbd": source.process.pid if source.process else 0,
                  "Kafka broker": broker.pid or 0,
                  "Redis": int(redis.Redis.from_url(args.redis).info("server")["process_id"])}
        bench = Bench(args, source, cluster, job, others)
        try:
            run(args, bench)
        finally:
            if job.job_id:
                cluster.request("POST", "/v2/job/delete", form={"job_id": job.job_id})


if __name__ == "__main__":
    main()
