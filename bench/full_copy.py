"""Full-copy throughput: the project's snapshot copy against ``mysqldump | mysql``.

    .venv/bin/python -m bench.full_copy [--rows 1000000] [--chunk-size 2000] [--workers 2]
                                        [--apply-workers 2] [--profile FILE]

Starts two throw-away MariaDB servers, builds one table of ``--rows`` rows (integers, decimal,
datetime(6), varchar, text, a nullable column), copies it into a fresh target schema with the
project (reader and the dest's parallel chunk apply on ``--apply-workers`` target connections,
in this process, a real Redis stream between them) and with ``mysqldump --single-transaction |
mysql``, checks both copies against the source, and prints rows/s of each and the ratio
project ÷ mysqldump. ``--profile`` writes cProfile stats of the project's run.
"""

from __future__ import annotations

import argparse
import cProfile
import shutil
import subprocess
import time
import uuid

import redis

from replication.config import SchemaRule
from replication.sinks.mysql.snapshot_pool import DEFAULT_WORKERS
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import table_digest
from tests.support.full_copy import make_job, run_copy

REDIS_URL = "redis://127.0.0.1:6379/15"


def build_source(server: MariaDBServer, rows: int) -> None:
    server.execute("CREATE DATABASE bench")
    server.execute(
        "CREATE TABLE bench.t (id BIGINT PRIMARY KEY, k INT NOT NULL, amount DECIMAL(14,4),"
        " created DATETIME(6), name VARCHAR(64), note TEXT, flag TINYINT, maybe INT NULL,"
        " KEY (k)) DEFAULT CHARSET=utf8mb4")
    step = 200_000
    for start in range(0, rows, step):
        end = min(rows, start + step)
        server.execute(
            "INSERT INTO bench.t SELECT seq, seq % 1000, seq / 3,"
            " '2020-01-01' + INTERVAL seq SECOND + INTERVAL seq % 1000000 MICROSECOND,"
            " CONCAT('name-', seq, '-\u00e9'), REPEAT(CONCAT('note ', seq % 97, ' '), 4),"
            " seq % 2, IF(seq % 5 = 0, NULL, seq)"
            f" FROM bench.seq_{start + 1}_to_{end}")


def copy_with_project(source: MariaDBServer, target: MariaDBServer, chunk_size: int,
                      workers: int, apply_workers: int, profile: str | None) -> float:
    job_id = f"bench{uuid.uuid4().hex[:8]}-migration"
    job = make_job(job_id, source, target, (SchemaRule(table_schema="bench",
                                                       table_schema_rename="project"),),
                   chunk_size=chunk_size)
    client = redis.Redis.from_url(REDIS_URL)
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    run_copy(job, client, workers=workers, capacity=16, timeout=3600,
             apply_workers=apply_workers)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile)
    return time.perf_counter() - started


def copy_with_mysqldump(source: MariaDBServer, target: MariaDBServer) -> float:
    target.execute("CREATE DATABASE dump")
    dump = shutil.which("mariadb-dump") or "mysqldump"
    client = shutil.which("mariadb") or "mysql"
    started = time.perf_counter()
    dumper = subprocess.Popen(
        [dump, "-h127.0.0.1", f"-P{source.port}", "-uroot", "--single-transaction",
         "--skip-triggers", "--no-tablespaces", "bench"], stdout=subprocess.PIPE)
    loader = subprocess.run([client, "-h127.0.0.1", f"-P{target.port}", "-uroot", "dump"],
                            stdin=dumper.stdout, check=True)
    assert dumper.wait() == 0 and loader.returncode == 0
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description="full copy vs mysqldump | mysql")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--apply-workers", type=int, default=DEFAULT_WORKERS)
    parser.add_argument("--profile", default=None)
    args = parser.parse_args()
    with MariaDBServer(server_id=201) as source, MariaDBServer(server_id=202) as target:
        print(f"building {args.rows} rows ...", flush=True)
        build_source(source, args.rows)
        expected = table_digest(source, "bench", "t")
        dump_seconds = copy_with_mysqldump(source, target)
        assert table_digest(target, "dump", "t") == expected, "mysqldump copy differs"
        project_seconds = copy_with_project(source, target, args.chunk_size, args.workers,
                                            args.apply_workers, args.profile)
        assert table_digest(target, "project", "t") == expected, "project copy differs"
    project_rate, dump_rate = args.rows / project_seconds, args.rows / dump_seconds
    print(f"project:   {project_seconds:7.2f} s  {project_rate:10.0f} rows/s")
    print(f"mysqldump: {dump_seconds:7.2f} s  {dump_rate:10.0f} rows/s")
    print(f"ratio project/mysqldump: {project_rate / dump_rate:.2f}")


if __name__ == "__main__":
    main()
