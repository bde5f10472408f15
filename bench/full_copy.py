"""The full copy through what users run, against ``mysqldump | mysql`` and mydumper + myloader.

    .venv/bin/python -m bench.full_copy [--redis redis://127.0.0.1:6379/14] [--quick]
                                        [--shapes issue,narrow,wide,many] [--profile DIR]

Two throw-away MariaDB servers (source, target) and a real cluster (the API, beat and two Celery
worker nodes as processes, ``scripts/cluster.py``, the runtime's production settings) on a Redis
database of its own, which the bench flushes. For each shape, on the same source data:

1. the project: a migration job created over HTTP with default settings copies the shape's
   schema; timed from the POST until the target holds the job's finished-copy checkpoint row
   (committed after every chunk; read every 20 ms on the target, not through the API, whose
   job detail polled that often cost the busy machine CPU the copy then lacked), then the dest
   must announce ``job_stage_incr`` and every table of the target must equal the source's;
2. ``mysqldump --single-transaction <schema> | mysql`` into a fresh target schema;
3. ``mydumper -t <cores>`` into a directory, then ``myloader -t <cores>`` (Debian package
   ``mydumper``; the bench says so and skips that reference when it is missing).

Before each of the three copies both servers flush their dirty pages (``settle``), so none
pays for the writes of the copy before it. Each copy must equal the source (row count and SUM of
per-row CRC32 per table) and is dropped afterwards. Printed per shape: rows/s of each tool, the
project's ratio to each, CPU seconds of every process (API, beat, each worker node's task
process and rest, both servers, the reference programs) and each worker's peak RSS during the
copy.

Shapes: ``issue`` one table of 1,000,000 rows ``(id bigint pk, a int, b varchar(64),
c decimal(12,2), d datetime(6), e text)``; ``narrow`` 3,000,000 rows of three integers; ``wide``
2,000 rows with a TEXT and a BLOB of tens of KB each; ``many`` 300 tables of 200 rows with a
secondary index. ``--quick`` divides the row counts by five (the 300 tables stay).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import redis

from bench.harness import (
    BenchJob,
    CpuMeter,
    bench_parser,
    bench_workdir,
    cpu_seconds,
    process_groups,
    process_tree,
    start_cluster,
    start_profile,
    stop_profile,
    wait_incremental,
    with_roles,
    worker_peaks,
)
from bench.incremental_shapes import digest
from replication.sinks.mysql.snapshot_checkpoint import TABLE as CHECKPOINT_TABLE
from scripts.cluster import Cluster, wait_for
from scripts.mariadb_sandbox import MariaDBServer

RSS_LIMIT_MB = 300
ER_NO_SUCH_TABLE = 1146
CORES = os.cpu_count() or 2


@dataclass(frozen=True)
class Shape:
    name: str
    label: str
    tables: int
    rows: int  # per table

    @property
    def schema(self) -> str:
        return f"fc_{self.name}"

    @property
    def total(self) -> int:
        return self.tables * self.rows


def shapes(quick: bool) -> dict[str, Shape]:
    div = 5 if quick else 1
    return {s.name: s for s in (
        Shape("issue", "1 table (bigint pk, int, varchar, decimal, datetime(6), text)", 1,
              1_000_000 // div),
        Shape("narrow", "1 table of narrow rows (3 integers)", 1, 3_000_000 // div),
        Shape("wide", "1 table of wide rows (TEXT ~30 KB + BLOB ~20 KB)", 1, 2_000 // div),
        Shape("many", "300 small tables (200 rows, a secondary index)", 300, 200),
    )}


def build(server: MariaDBServer, shape: Shape) -> None:
    """The shape's schema on the source, deterministic data made by the server itself."""
    conn = server.connect(ssl_disabled=True)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE {shape.schema} DEFAULT CHARSET utf8mb4")
        cur.execute(f"USE {shape.schema}")
        if shape.name == "issue":
            cur.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, a INT, b VARCHAR(64), "
                        "c DECIMAL(12,2), d DATETIME(6), e TEXT)")
            _fill(cur, shape.rows, "INSERT INTO t SELECT seq, seq % 100003, CONCAT('name-', seq, "
                  "'-\u00e9'), (seq % 1000000) / 7, '2020-01-01' + INTERVAL seq SECOND + INTERVAL "
                  "seq % 999999 MICROSECOND, IF(seq % 10 = 0, NULL, REPEAT(CONCAT('note ', seq % 97, "
                  "' '), 1 + seq % 8)) FROM seq_{lo}_to_{hi}")
        elif shape.name == "narrow":
            cur.execute("CREATE TABLE t (id INT PRIMARY KEY, a INT NOT NULL, b SMALLINT)")
            _fill(cur, shape.rows, "INSERT INTO t SELECT seq, seq * 7 % 1000003, seq % 30000 "
                  "FROM seq_{lo}_to_{hi}")
        elif shape.name == "wide":
            cur.execute("CREATE TABLE t (id INT PRIMARY KEY, title VARCHAR(100), body TEXT, "
                        "data BLOB)")
            _fill(cur, shape.rows, "INSERT INTO t SELECT seq, CONCAT('doc ', seq), "
                  "REPEAT(CONCAT(MD5(seq), ' \u00fc '), 850), "
                  "REPEAT(UNHEX(SHA2(seq, 256)), 640) FROM seq_{lo}_to_{hi}", step=500)
        else:
            for n in range(shape.tables):
                cur.execute(f"CREATE TABLE s{n:03d} (id INT PRIMARY KEY, k INT NOT NULL, "
                            "v VARCHAR(40), KEY (k))")
                cur.execute(f"INSERT INTO s{n:03d} SELECT seq, seq % 17, CONCAT('row ', seq) "
                            f"FROM seq_1_to_{shape.rows}")
        cur.execute(f"ANALYZE TABLE {', '.join(tables(conn, shape.schema))}")
        cur.fetchall()
    conn.close()


def _fill(cur: Any, rows: int, sql: str, step: int = 200_000) -> None:
    for lo in range(1, rows + 1, step):
        cur.execute(sql.format(lo=lo, hi=min(rows, lo + step - 1)))


def tables(conn: pymysql.connections.Connection, schema: str) -> list[str]:
    with conn.cursor() as cur:
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                    "ORDER BY TABLE_NAME", (schema,))
        names = [str(r[0]) for r in cur.fetchall()]
    conn.commit()
    return names


def wait_copied(conn: pymysql.connections.Connection, job_id: str, timeout: float) -> None:
    """Until the target holds the job's finished-copy checkpoint row, which the dest commits
    after every chunk (it drains its connections first). Read on the target every 20 ms: a
    primary-key lookup costs the target next to nothing, where the API's job detail, polled as
    often, cost the busy 2-core machine about a CPU second per shape."""
    sql = (f"SELECT done FROM {CHECKPOINT_TABLE} WHERE job_id = %s AND source_schema = '' "
           "AND source_table = ''")

    def copied() -> bool:
        try:
            with conn.cursor() as cur:
                cur.execute(sql, (job_id,))
                row = cur.fetchone()
        except pymysql.err.ProgrammingError as exc:  # the dest has not created the table yet
            if exc.args[0] != ER_NO_SUCH_TABLE:
                raise
            return False
        return bool(row and row[0])

    wait_for(copied, timeout, f"{job_id}: the finished copy", interval=0.02)


def digests(server: MariaDBServer, schema: str, names: list[str]) -> list[tuple[int, int]]:
    conn = server.connect(ssl_disabled=True)
    try:
        return [digest(conn, schema, name) for name in names]
    finally:
        conn.close()


def settle(*servers: MariaDBServer, timeout: float = 120.0) -> None:
    """Before each tool's copy: the servers flush their dirty pages, so no tool pays for the
    writes of the one before it (the redo log of 256 MB fills with a shape's rows after two
    copies, and InnoDB then flushes furiously in the middle of the third)."""
    for server in servers:
        conn = server.connect(ssl_disabled=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT @@innodb_max_dirty_pages_pct, @@innodb_max_dirty_pages_pct_lwm")
                row = cur.fetchone()
                assert row is not None  # a SELECT of variables always answers one row
                pct, lwm = row
                cur.execute("SET GLOBAL innodb_max_dirty_pages_pct_lwm = 0.001")
                cur.execute("SET GLOBAL innodb_max_dirty_pages_pct = 0")
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    cur.execute("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")
                    dirty = cur.fetchone()
                    if dirty is not None and int(dirty[1]) == 0:
                        break
                    time.sleep(0.2)
                cur.execute("SET GLOBAL innodb_max_dirty_pages_pct = %s", (pct,))
                cur.execute("SET GLOBAL innodb_max_dirty_pages_pct_lwm = %s", (lwm,))
        finally:
            conn.close()


def reset_peaks(cluster: Cluster) -> None:
    """Restart each worker process's peak RSS count at its current RSS (``clear_refs`` 5)."""
    for proc in cluster.workers.values():
        for pid in process_tree(proc.pid):
            try:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
            except OSError:
                pass


class Run:
    def __init__(self, args: argparse.Namespace, source: MariaDBServer, target: MariaDBServer,
                 cluster: Cluster, workdir: Path) -> None:
        self.args, self.source, self.target, self.cluster = args, source, target, cluster
        self.workdir = workdir
        self.summary: list[str] = []
        self.peaks: dict[str, float] = {}

    # -- the project ---------------------------------------------------------------------
    def project(self, shape: Shape, expected: list[tuple[int, int]], names: list[str]) -> float:
        settle(self.source, self.target)
        reset_peaks(self.cluster)
        meter = CpuMeter(process_groups(self.cluster, self.source, self.target)).start()
        job = BenchJob(self.cluster, f"fullcopy-{shape.name}", self.source, self.target, shape.schema)
        profilers = start_profile(self.cluster, self.args.profile, shape.name,
                                  ["--threads", *self.args.profile_flags.split()])
        watch = self.target.connect(ssl_disabled=True)  # connected before the clock starts
        started = time.perf_counter()
        job.job_id = self.cluster.post("/v2/job/migration", job.config)["job"]["job_id"]
        wait_copied(watch, job.job_id, 3600)
        seconds = time.perf_counter() - started
        watch.close()
        stop_profile(profilers, 60)
        wait_incremental(self.cluster, job.job_id, 60)  # and the dest says so
        cpu = with_roles(meter.stop(), job)
        peaks = worker_peaks(self.cluster)
        for name, value in peaks.items():
            self.peaks[name] = max(self.peaks.get(name, 0.0), value)
        if digests(self.target, shape.schema, names) != expected:
            raise SystemExit(f"{shape.name}: the project's copy differs from the source")
        job.delete()
        self._drop(shape.schema)
        print(f"  project (job over the API, default settings): {seconds:7.2f} s "
              f"{shape.total / seconds:10,.0f} rows/s", flush=True)
        print("    CPU s: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()))
        print("    peak RSS: " + ", ".join(f"{k} {v:.0f} MB" for k, v in peaks.items()), flush=True)
        return seconds

    # -- the references ------------------------------------------------------------------
    def mysqldump(self, shape: Shape, expected: list[tuple[int, int]], names: list[str]) -> float:
        into = f"{shape.schema}_dump"
        self.target.execute(f"CREATE DATABASE {into}")
        settle(self.source, self.target)
        dump = shutil.which("mariadb-dump") or "mysqldump"
        client = shutil.which("mariadb") or "mysql"
        servers = self._server_cpu()
        started = time.perf_counter()
        dumper = subprocess.Popen([dump, "-h127.0.0.1", f"-P{self.source.port}", "-uroot",
                                   "--single-transaction", "--skip-triggers", "--no-tablespaces",
                                   shape.schema], stdout=subprocess.PIPE)
        loader = subprocess.Popen([client, "-h127.0.0.1", f"-P{self.target.port}", "-uroot", into],
                                  stdin=dumper.stdout)
        assert dumper.stdout is not None
        dumper.stdout.close()
        cpu = {"mysqldump": _wait(dumper), "mysql": _wait(loader)}
        seconds = time.perf_counter() - started
        self._check(shape, into, expected, names, "mysqldump | mysql")
        self._report("mysqldump | mysql", shape, seconds, {**cpu, **self._server_cpu(servers)})
        return seconds

    def mydumper(self, shape: Shape, expected: list[tuple[int, int]], names: list[str]) -> float | None:
        if not (shutil.which("mydumper") and shutil.which("myloader")):
            print("  mydumper + myloader: NOT INSTALLED (Debian: apt-get install -y mydumper); skipped",
                  flush=True)
            return None
        into = f"{shape.schema}_myd"
        out = self.workdir / f"mydumper-{shape.name}"
        shutil.rmtree(out, ignore_errors=True)
        settle(self.source, self.target)
        servers = self._server_cpu()
        started = time.perf_counter()
        dumper = subprocess.Popen(["mydumper", "-h", "127.0.0.1", "-P", str(self.source.port), "-u",
                                   "root", "-B", shape.schema, "-t", str(CORES), "--trx-consistency-only",
                                   "-o", str(out)], stdout=subprocess.DEVNULL)
        cpu = {"mydumper": _wait(dumper)}
        loader = subprocess.Popen(["myloader", "-h", "127.0.0.1", "-P", str(self.target.port), "-u",
                                   "root", "-d", str(out), "-s", shape.schema, "-B", into, "-t",
                                   str(CORES)], stdout=subprocess.DEVNULL)
        cpu["myloader"] = _wait(loader)
        seconds = time.perf_counter() - started
        shutil.rmtree(out, ignore_errors=True)
        self._check(shape, into, expected, names, "mydumper + myloader")
        self._report(f"mydumper + myloader (-t {CORES})", shape, seconds,
                     {**cpu, **self._server_cpu(servers)})
        return seconds

    def _server_cpu(self, before: dict[str, float] | None = None) -> dict[str, float]:
        now = {label: cpu_seconds(server.process.pid) if server.process else 0.0
               for label, server in (("source mariadbd", self.source), ("target mariadbd", self.target))}
        return {k: v - (before or {}).get(k, 0.0) for k, v in now.items()}

    def _check(self, shape: Shape, into: str, expected: list[tuple[int, int]], names: list[str],
               tool: str) -> None:
        if digests(self.target, into, names) != expected:
            raise SystemExit(f"{shape.name}: the copy of {tool} differs from the source")
        self._drop(into)

    def _drop(self, schema: str) -> None:
        self.target.execute(f"DROP DATABASE IF EXISTS {schema}")

    @staticmethod
    def _report(tool: str, shape: Shape, seconds: float, cpu: dict[str, float]) -> None:
        print(f"  {tool}: {seconds:7.2f} s {shape.total / seconds:10,.0f} rows/s", flush=True)
        print("    CPU s: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()), flush=True)

    # -- one shape -----------------------------------------------------------------------
    def shape(self, shape: Shape) -> None:
        print(f"\n{shape.label}: {shape.tables} table(s), {shape.total:,} rows", flush=True)
        build(self.source, shape)
        conn = self.source.connect(ssl_disabled=True)
        names = tables(conn, shape.schema)
        conn.close()
        expected = digests(self.source, shape.schema, names)
        dump = self.mysqldump(shape, expected, names)
        myd = self.mydumper(shape, expected, names)
        ours = self.project(shape, expected, names)
        line = (f"| {shape.label} | {shape.total / ours:,.0f} | {shape.total / dump:,.0f} "
                f"| {dump / ours:.2f} |")
        line += f" {shape.total / myd:,.0f} | {myd / ours:.2f} |" if myd else " missing | |"
        print(f"  ratio project/mysqldump: {dump / ours:.2f}"
              + (f", project/mydumper+myloader: {myd / ours:.2f}" if myd else ""), flush=True)
        self.summary.append(line)
        self.source.execute(f"DROP DATABASE {shape.schema}")

    def report(self) -> None:
        print("\n| shape | project rows/s | mysqldump\\|mysql rows/s | ratio | "
              f"mydumper+myloader -t {CORES} rows/s | ratio |\n|---|---|---|---|---|---|")
        print("\n".join(self.summary))
        print("peak RSS per worker over all shapes (its largest process): " +
              ", ".join(f"{k} {v:.0f} MB" for k, v in self.peaks.items()))
        over = [k for k, v in self.peaks.items() if v > RSS_LIMIT_MB]
        if over:
            print(f"WARNING: over {RSS_LIMIT_MB} MB: {', '.join(over)}")
        print(f"({CORES}-core machine; same-run ratios are what to compare)")


def _wait(proc: subprocess.Popen[bytes]) -> float:
    """Wait for a child; its CPU seconds (user + system)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{proc.args!r} failed with {proc.returncode}")
    return usage.ru_utime + usage.ru_stime


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = bench_parser(__doc__ or "")
    parser.add_argument("--shapes", default="issue,narrow,wide,many",
                        help="comma-separated, of: issue, narrow, wide, many (default: all)")
    parser.add_argument("--quick", action="store_true", help="a fifth of the rows, for a smoke run")
    parser.add_argument("--profile", metavar="DIR", help="py-spy raw stacks of both workers per shape")
    parser.add_argument("--profile-flags", default="--idle",
                        help="py-spy flags: --idle (waits too) or --gil (CPU only)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    known = shapes(args.quick)
    chosen = [known[n] for n in args.shapes.split(",") if n]
    redis.Redis.from_url(args.redis).flushdb()
    with ExitStack() as stack:
        source = stack.enter_context(MariaDBServer(server_id=201))
        target = stack.enter_context(MariaDBServer(server_id=202))
        workdir = bench_workdir(stack, args.workdir)
        cluster = start_cluster(workdir, args.redis)
        stack.callback(cluster.stop)
        print(f"cluster up (API {cluster.base_url}, workers {', '.join(cluster.workers)})", flush=True)
        run = Run(args, source, target, cluster, workdir)
        for shape in chosen:
            run.shape(shape)
        run.report()


if __name__ == "__main__":
    main()
