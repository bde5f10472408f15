"""Incremental replication through what users run, against native binlog replay in the same run.

    .venv/bin/python -m bench.incremental [--redis redis://127.0.0.1:6379/14] [--quick]

Three throw-away MariaDB servers (source, target, reference) and a real cluster (the API, beat
and two Celery worker nodes as processes, ``scripts/cluster.py``) on a Redis database of its
own, which the bench flushes. One migration job is created over HTTP with default settings and
copies the ``bench`` schema. Then, for each traffic shape:

1. pause the job, note the source's binlog position, write the traffic, note the position;
2. resume the job and time until the target's checkpoint holds the last transaction and every
   table's digest (count and SUM of per-row CRC32) equals the source's;
3. replay the same binlog range with ``mariadb-binlog --start-position --stop-position <files>
   | mariadb`` into the reference server (identical to the target, holding the same data) and
   time it; its tables must equal the source's too.

It prints both rates and their ratio, each process's CPU seconds during the catch-up, the
steady-state delay at fixed source rates (marker rows carry their write time; the target is
polled for the newest), the 300-small-table first-change latency (right after the full copy
and after a pause/resume), and each worker's peak RSS. ``--tuned`` adds labelled lines with
non-default dest settings; ``--profile DIR`` records py-spy stacks of both workers.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import Any

import pymysql
import redis

from bench.harness import (
    BenchJob,
    BinlogPoint,
    CpuMeter,
    MonitorSampler,
    applied_prefix,
    bench_parser,
    bench_workdir,
    binlog_point,
    cpu_seconds,
    describe_monitor,
    native_replay,
    process_groups,
    start_cluster,
    start_profile,
    stop_profile,
    with_roles,
    worker_peaks,
)
from bench.incremental_shapes import (
    MANY_SCHEMA,
    SCHEMA,
    HundredRow,
    Mixed,
    OneRow,
    Written,
    create_many,
    create_schema,
    digest,
    many_arrived,
    steady_writer,
    touch_many,
)
from scripts.cluster import Cluster, wait_for
from scripts.mariadb_sandbox import MariaDBServer

RSS_LIMIT_MB = 300


class Bench:
    """The servers, the cluster and the job, and the lines printed so far."""

    def __init__(self, args: argparse.Namespace, source: MariaDBServer, target: MariaDBServer,
                 reference: MariaDBServer, cluster: Cluster, job: BenchJob) -> None:
        self.args = args
        self.source, self.target, self.reference = source, target, reference
        self.cluster, self.job = cluster, job
        self.summary: list[str] = []
        self.target_conn = target.connect(ssl_disabled=True)

    def converged(self, tables: tuple[str, ...], target: MariaDBServer | None = None) -> bool:
        src = self.source.connect(ssl_disabled=True)
        dst = (target or self.target).connect(ssl_disabled=True)
        try:
            return all(digest(src, SCHEMA, t) == digest(dst, SCHEMA, t) for t in tables)
        finally:
            src.close()
            dst.close()

    def catch_up(self, label: str, write: Callable[[pymysql.connections.Connection], Written],
                 tables: tuple[str, ...], unit: str) -> None:
        """Pause, write, resume and time until the target equals the source; then the native
        replay of the same binlog range."""
        job, source = self.job, self.source
        job.pause()
        start = binlog_point(source)
        conn = source.connect(database=SCHEMA, ssl_disabled=True)
        began = time.time()
        written = write(conn)
        conn.close()
        wrote = (began, time.time())
        end = binlog_point(source)
        print(f"\n{label}: {written.transactions:,} transactions, {written.rows:,} row changes, written "
              f"in {wrote[1] - wrote[0]:.1f}s (binlog {start.file}:{start.pos} to {end.file}:{end.pos})",
              flush=True)
        slug = "-".join(label.split()[1:3]).replace("/", "-")
        profilers = start_profile(self.cluster, self.args.profile, slug,
                                  ["--threads", *self.args.profile_flags.split()])
        done, first, cpu, samples = self._resume_until(start, end)
        stop_profile(profilers, 30)
        wait_for(lambda: self.converged(tables), 60, f"{label}: target tables to equal the source's")
        native, native_cpu = self._native(start, end, tables)
        amount = written.transactions if unit == "tx" else written.rows
        ours, theirs = amount / done, amount / native
        name = "transactions/s" if unit == "tx" else "row changes/s"
        settings = "non-default settings" if "non-default" in label else "default settings"
        print(f"  project (job over the API, {settings}): {done:.2f}s from resume = "
              f"{ours:,.0f} {name} (first change applied {first:.2f}s after resume)")
        print(f"  native (mariadb-binlog | mariadb): {native:.2f}s = {theirs:,.0f} {name}")
        print(f"  ratio: {ours / theirs:.2f}")
        print("  CPU seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()) +
              f"; native replay {native_cpu:.1f} (client programs and reference mariadbd)")
        print("  " + describe_monitor(samples, wrote, job.capacity), flush=True)
        self.summary.append(f"| {label} | {ours:,.0f} {name} | {theirs:,.0f} | {ours / theirs:.2f} |")

    def _resume_until(self, start: BinlogPoint, end: BinlogPoint
                      ) -> tuple[float, float, dict[str, float], list[dict[str, Any]]]:
        """Resume the job and wait until its checkpoint holds ``end``: seconds from the resume,
        seconds until the first change was applied, CPU seconds per process, monitor samples."""
        job = self.job
        meter = CpuMeter(process_groups(self.cluster, self.source, self.target)).start()
        monitor = MonitorSampler(job).start()
        resumed = time.perf_counter()
        job.resume()
        first = 0.0
        while (applied := applied_prefix(self.target_conn, job.job_id)) < end.seq:
            if not first and applied > start.seq:
                first = time.perf_counter() - resumed
            time.sleep(0.02)
        done = time.perf_counter() - resumed
        return done, first, with_roles(meter.stop(), job), monitor.stop()

    def _native(self, start: BinlogPoint, end: BinlogPoint, tables: tuple[str, ...]) -> tuple[float, float]:
        """Seconds and CPU seconds of the native replay, whose tables must equal the source's."""
        before = _children_cpu() + cpu_seconds(self.reference.process.pid if self.reference.process else 0)
        native = native_replay(self.source, start, end, self.reference)
        used = _children_cpu() + cpu_seconds(self.reference.process.pid if self.reference.process else 0)
        if not self.converged(tables, self.reference):
            raise SystemExit("the native replay did not reproduce the source's tables")
        return native, used - before

    def steady(self, rows_per_tx: int, tx_per_second: float, first_id: int) -> None:
        """Delay while the source writes at a fixed rate: now minus the write time of the newest
        row on the target, sampled every 0.1 s after a 2 s warm-up."""
        stop = threading.Event()
        result: list[Written] = []
        body = steady_writer(self.source, tx_per_second, rows_per_tx, stop, first_id)
        thread = threading.Thread(target=lambda: result.append(body()), daemon=True)
        began = time.time()
        thread.start()
        samples: list[float] = []
        conn = self.target_conn
        while time.time() < began + self.args.steady_seconds:
            with conn.cursor() as cur:
                cur.execute(f"SELECT MAX(written) FROM {SCHEMA}.steady")
                row = cur.fetchone()
                assert row is not None  # an aggregate always answers one row
                newest = row[0]
            conn.commit()
            now = time.time()
            if now > began + 2 and newest and newest >= began:
                samples.append(now - float(newest))
            time.sleep(0.1)
        stop.set()
        thread.join()
        written = result[0]
        rate = written.rows / self.args.steady_seconds
        if not samples:
            raise SystemExit("steady state: no marker row ever reached the target")
        samples.sort()
        label = f"{rows_per_tx}-row transactions at {tx_per_second * rows_per_tx:,.0f} row changes/s"
        p95 = samples[int(0.95 * (len(samples) - 1))]
        line = f"median {statistics.median(samples):.2f}s, p95 {p95:.2f}s, max {samples[-1]:.2f}s"
        print(f"\nsteady delay, {label} (achieved {rate:,.0f}/s): {line} over {len(samples)} samples",
              flush=True)
        self.summary.append(f"| steady delay, {label} | {line} | | |")

    def many_tables(self) -> None:
        """One UPDATE per table of a freshly copied schema of small tables, then again after a
        pause/resume: seconds from the first write until the last table has it."""
        tables = self.args.tables
        create_many(self.source, tables)
        job = BenchJob(self.cluster, "benchmany", self.source, self.target, MANY_SCHEMA).create()
        wait_for(lambda: many_arrived(self.target_conn, tables, 0) == tables, 120, "the small tables' copy")
        for value, when in ((1, "right after the full copy"), (2, "after a pause/resume")):
            if value == 2:
                job.pause()
                job.resume()
                job.wait_running()
            written = time.perf_counter()
            touch_many(self.source, tables, value)
            wrote = time.perf_counter() - written
            wait_for(partial(self._all_arrived, value), 300, "every table's update", interval=0.05)
            last = time.perf_counter() - written
            print(f"\n{tables} small tables, one UPDATE each {when}: written in {wrote:.2f}s, the last "
                  f"arrived {last:.2f}s after the first write", flush=True)
            self.summary.append(f"| {tables} tables, first change {when} | last after {last:.2f}s | | |")
        job.delete()

    def _all_arrived(self, value: int) -> bool:
        return many_arrived(self.target_conn, self.args.tables, value) == self.args.tables

    def report(self) -> None:
        print("\n| traffic | project | native replay | ratio |\n|---|---|---|---|")
        print("\n".join(self.summary))
        peaks = worker_peaks(self.cluster)
        print("peak RSS per worker (its largest process): " +
              ", ".join(f"{k} {v:.0f} MB" for k, v in peaks.items()))
        over = [k for k, v in peaks.items() if v > RSS_LIMIT_MB]
        if over:
            print(f"WARNING: over {RSS_LIMIT_MB} MB: {', '.join(over)}")
        print("(2-core machine; same-run ratios are what to compare)")


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (the replay's client programs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_shapes(bench: Bench) -> None:
    args = bench.args
    one, hundred = OneRow(), HundredRow()
    mixed = Mixed(one, hundred)
    if args.one_row:
        bench.catch_up(f"{args.one_row:,} one-row transactions", lambda c: one.write(c, args.one_row),
                       OneRow.tables, "tx")
    if args.hundred_row:
        bench.catch_up(f"{args.hundred_row:,} 100-row transactions",
                       lambda c: hundred.write(c, args.hundred_row), HundredRow.tables, "rows")
    if args.mixed:
        bench.catch_up(f"{args.mixed:,} mixed transactions", lambda c: mixed.write(c, args.mixed),
                       Mixed.tables, "tx")
    if args.steady_seconds:
        bench.steady(100, 50, 1)
        bench.steady(1, 1000, 100_000_000)
    if args.tuned_workers:
        bench.job.update("dest", parallel_workers=args.tuned_workers)
        tuned = f"(non-default: parallel_workers {args.tuned_workers})"
        if args.one_row:
            bench.catch_up(f"{args.one_row:,} one-row transactions {tuned}",
                           lambda c: one.write(c, args.one_row), OneRow.tables, "tx")
        if args.hundred_row:
            bench.catch_up(f"{args.hundred_row:,} 100-row transactions {tuned}",
                           lambda c: hundred.write(c, args.hundred_row), HundredRow.tables, "rows")
    if args.tables:
        bench.many_tables()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(__doc__ or "")
    parser.add_argument("--one-row", type=int, default=20_000, help="one-row transactions (0: skip)")
    parser.add_argument("--hundred-row", type=int, default=3_000, help="100-row transactions (0: skip)")
    parser.add_argument("--mixed", type=int, default=5_000, help="mixed transactions (0: skip)")
    parser.add_argument("--steady-seconds", type=float, default=20, help="per fixed rate (0: skip)")
    parser.add_argument("--tables", type=int, default=300, help="small tables (0: skip)")
    parser.add_argument("--tuned-workers", type=int, default=0, metavar="N",
                        help="then the one-row and 100-row shapes again with parallel_workers N, "
                             "labelled as non-default")
    parser.add_argument("--quick", action="store_true", help="a fifth of every amount, for a smoke run")
    parser.add_argument("--profile", metavar="DIR", help="py-spy raw stacks of both workers per shape")
    parser.add_argument("--profile-flags", default="--idle",
                        help="py-spy flags: --idle (waits too) or --gil (CPU only)")
    args = parser.parse_args(argv)
    if args.quick:
        args.one_row, args.hundred_row, args.mixed = args.one_row // 5, args.hundred_row // 5, args.mixed // 5
        args.steady_seconds, args.tables = args.steady_seconds / 4, args.tables // 5
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    redis.Redis.from_url(args.redis).flushdb()
    with ExitStack() as stack:
        servers = [stack.enter_context(MariaDBServer(server_id=n)) for n in (201, 202, 203)]
        source, target, reference = servers
        workdir = bench_workdir(stack, args.workdir)
        for server in (source, reference):
            create_schema(server)
        cluster = start_cluster(workdir, args.redis)
        stack.callback(cluster.stop)
        print(f"cluster up (API {cluster.base_url}, workers {', '.join(cluster.workers)}); full copy...",
              flush=True)
        job = BenchJob(cluster, "bench", source, target, SCHEMA).create()
        bench = Bench(args, source, target, reference, cluster, job)
        wait_for(lambda: bench.converged(Mixed.tables), 120, "the full copy")
        run_shapes(bench)
        bench.report()
        job.delete()


if __name__ == "__main__":
    main()
