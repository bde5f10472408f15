"""Incremental replication benchmark against python-mysql-replication's bare read rate.

    .venv/bin/python -m bench.incremental [--rows 500000] [--tx-rows 100] [--workers 2]

Starts two throw-away MariaDB servers, writes ``--rows`` row changes (half inserts, half
updates, ``--tx-rows`` per transaction) to the source, then in the same run measures:

1. the bare decode rate: ``BinLogStreamReader`` over that binlog, touching every row's values;
2. the end-to-end rate: src and dest as two processes (``replication.cli``) from the position
   before the writes until the target's checkpoint holds the last GTID;
3. the delay at a steady ``--steady-rate`` rows/s: marker rows carry their write time, and the
   time they appear on the target is the delay.

It prints both rates and their ratio (goal >= 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import MariadbGtidEvent, XidEvent
from pymysqlreplication.row_event import UpdateRowsEvent, WriteRowsEvent

from replication.sinks.mysql.checkpoint import load_checkpoint
from scripts.mariadb_sandbox import MariaDBServer

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "bench"
# Unique per run: two runs at once must not share a transport stream or checkpoint rows.
JOB = f"bench{uuid.uuid4().hex[:8]}-migration"


WIDE_COLUMNS = (", d DECIMAL(12,2) NOT NULL DEFAULT 1.25, "
                "e DATETIME(6) NOT NULL DEFAULT "
                "'2024-01-01 00:00:00.5', f ENUM('x','y') NOT NULL DEFAULT 'x', g TEXT DEFAULT 'wide'")


def write_rows(source: MariaDBServer, rows: int, tx_rows: int) -> None:
    conn = source.connect(database=SCHEMA)
    with conn.cursor() as cur:
        inserts = rows // 2
        for start in range(0, inserts, tx_rows):
            conn.begin()
            last = min(inserts, start + tx_rows)
            cur.executemany("INSERT INTO t (id, a, b, c) VALUES (%s, %s, %s, %s)",
                            [(i, i % 97, f"name-{i}", i * 1.5) for i in range(start, last)])
            conn.commit()
        for start in range(0, rows - inserts, tx_rows):
            cur.execute("UPDATE t SET a = a + 1, c = c + 1 WHERE id >= %s AND id < %s",
                        (start, start + tx_rows))
    conn.close()


def gtid_pos(server: MariaDBServer) -> str:
    return str(server.execute("SELECT @@gtid_binlog_pos")[0][0] or "")


def bare_read(source: MariaDBServer, start: str, end: str) -> tuple[int, float]:
    """Rows decoded by the library alone, from ``start`` through the transaction ``end``."""
    stream = BinLogStreamReader(
        connection_settings={"host": "127.0.0.1", "port": source.port, "user": "root", "password": ""},
        server_id=4242, is_mariadb=True, auto_position=start, blocking=True, slave_heartbeat=0.5,
        only_events=[WriteRowsEvent, UpdateRowsEvent, MariadbGtidEvent, XidEvent], enable_logging=False)
    started, count, last_seen = time.perf_counter(), 0, False
    for event in stream:
        if isinstance(event, MariadbGtidEvent):
            last_seen = event.gtid == end
        elif isinstance(event, XidEvent):
            if last_seen:
                break
        else:
            for row in event.rows:
                count += 1 if (row.get("values") or row.get("after_values")) else 0
    stream.close()
    return count, time.perf_counter() - started


def job_file(tmp: Path, source: MariaDBServer, target: MariaDBServer, start: str, workers: int) -> Path:
    job = {"job_id": JOB, "job_name": "bench", "src_task": {
        "mysql_connection_config": source.connection_config(), "gtid": start,
        "group_max_size": 262144, "group_timeout": 50, "repl_chan_buffer_size": 64,
        "replicate_do_db": [{"table_schema": SCHEMA}]},
        "dest_task": {"mysql_connection_config": target.connection_config(), "parallel_workers": workers}}
    path = tmp / "job.json"
    path.write_text(json.dumps(job))
    return path


def between(start: str, end: str) -> list[str]:
    """Every MariaDB GTID after ``start`` through ``end`` (one domain and server: this bench's)."""
    prefix, _, last = end.rpartition("-")
    first = int(start.rpartition("-")[2]) if start else 0
    return [f"{prefix}-{n}" for n in range(first + 1, int(last) + 1)]


def wait_applied(target: MariaDBServer, gtids: list[str], timeout: float = 3600) -> float:
    """When the target's checkpoint holds every one of ``gtids`` (workers commit out of order,
    so the last GTID alone could be there before an earlier one)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        # Without TLS: pymysql builds an SSL context for every connection otherwise, ~60 ms of
        # CPU per poll that the bench would take from the runners it measures.
        cp = load_checkpoint(lambda: target.connect(ssl_disabled=True), JOB)
        if cp is not None and gtids[-1] in cp.executed and all(g in cp.executed for g in gtids):
            return time.perf_counter()
        time.sleep(0.05)
    raise TimeoutError(f"target did not reach {gtids[-1]}")


def steady_delay(source: MariaDBServer, target: MariaDBServer, rate: int, seconds: float) -> list[float]:
    stop = threading.Event()

    def writer() -> None:
        conn = source.connect(database=SCHEMA)
        with conn.cursor() as cur:
            n, started = 10_000_000, time.perf_counter()
            while not stop.is_set():
                conn.begin()
                cur.executemany("INSERT INTO t (id, a, b, c) VALUES (%s, 1, 'steady', 1)",
                                [(n + i,) for i in range(100)])
                cur.execute("REPLACE INTO hb VALUES (1, %s)", (time.time(),))
                conn.commit()
                n += 100
                ahead = (n - 10_000_000) / rate - (time.perf_counter() - started)
                if ahead > 0:
                    time.sleep(ahead)
        conn.close()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    delays: list[float] = []
    conn = target.connect(database=SCHEMA)
    end = time.time() + seconds
    while time.time() < end:
        with conn.cursor() as cur:
            cur.execute("SELECT ts FROM hb WHERE id = 1")
            row = cur.fetchone()
        if row:
            delays.append(time.time() - float(row[0]))
        time.sleep(0.2)
    stop.set()
    thread.join()
    conn.close()
    return delays


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runner_command(task: str, profile_dir: str | None) -> list[str]:
    """The runner's command line; every thread under cProfile when profiling."""
    if not profile_dir:
        return [sys.executable, "-m", "replication.cli"]
    Path(profile_dir).mkdir(parents=True, exist_ok=True)
    return [sys.executable, "-m", "bench.profile_runner", str(Path(profile_dir).resolve() / f"{task}.prof")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--tx-rows", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steady-rate", type=int, default=5000)
    parser.add_argument("--steady-seconds", type=float, default=20)
    parser.add_argument("--wide", action="store_true",
                        help="add DECIMAL, DATETIME(6), ENUM and TEXT columns (rows the binlog "
                             "library decodes, not the project's fast decoder)")
    parser.add_argument("--profile", metavar="DIR",
                        help="run src and dest under cProfile, writing DIR/src.prof and DIR/dest.prof")
    args = parser.parse_args()
    with MariaDBServer(server_id=201) as source, MariaDBServer(server_id=202) as target, \
            tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for server in (source, target):
            server.execute(f"CREATE DATABASE {SCHEMA}")
            server.execute(f"CREATE TABLE {SCHEMA}.t (id BIGINT PRIMARY KEY, a INT, b VARCHAR(32), "
                           f"c DOUBLE{WIDE_COLUMNS if args.wide else ''})")
            server.execute(f"CREATE TABLE {SCHEMA}.hb (id INT PRIMARY KEY, ts DOUBLE)")
        start = gtid_pos(source)
        began = time.perf_counter()
        write_rows(source, args.rows, args.tx_rows)
        end = gtid_pos(source)
        print(f"wrote {args.rows} row changes in {time.perf_counter() - began:.1f}s "
              f"(binlog {start!r} to {end!r})", flush=True)
        count, seconds = bare_read(source, start, end)
        if count != args.rows:
            raise SystemExit(f"the bare read decoded {count} rows, not the {args.rows} written")
        bare_rate = count / seconds
        print(f"bare python-mysql-replication read: {count} rows in {seconds:.1f}s = "
              f"{bare_rate:,.0f} rows/s", flush=True)
        job = job_file(tmp, source, target, start, args.workers)
        logs = open(tmp / "runners.log", "wb")  # noqa: SIM115
        servers_cpu = {name: cpu_seconds(server.process.pid) for name, server in
                       (("source mariadbd", source), ("target mariadbd", target)) if server.process}
        started = time.perf_counter()
        redis_args = ["--job-config", str(job), "--redis", "redis://127.0.0.1:6379/15"]
        procs = [subprocess.Popen([*runner_command(task, args.profile), task, *redis_args], cwd=ROOT,
                                  stdout=logs, stderr=logs) for task in ("dest", "src")]
        try:
            done = wait_applied(target, between(start, end))
            e2e = args.rows / (done - started)
            print(f"end to end (src + dest processes, {args.workers} workers): {args.rows} rows in "
                  f"{done - started:.1f}s = {e2e:,.0f} rows/s")
            print(f"ratio end-to-end / bare read: {e2e / bare_rate:.2f}")
            cpu = {task: cpu_seconds(proc.pid) for task, proc in zip(("dest", "src"), procs, strict=True)}
            for name, server in (("source mariadbd", source), ("target mariadbd", target)):
                if server.process:
                    cpu[name] = cpu_seconds(server.process.pid) - servers_cpu[name]
            print("CPU seconds during end to end: " + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items()),
                  flush=True)
            delays = steady_delay(source, target, args.steady_rate, args.steady_seconds)
            if delays:
                print(f"delay at {args.steady_rate} rows/s: median {statistics.median(delays):.2f}s, "
                      f"max {max(delays):.2f}s over {len(delays)} samples")
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
            import redis
            redis.Redis.from_url("redis://127.0.0.1:6379/15").delete(f"dtle:stream:{JOB}")


if __name__ == "__main__":
    main()
