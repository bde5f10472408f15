"""Runs one full copy in this process (reader thread + applier loop), for the crash test.

    python -m tests.support.snapshot_driver --source-port P --target-port Q \
        --job-id J --schema S [--chunk-size N] [--redis-url URL]

Logs at INFO to stderr and prints ``DONE <position>`` when the copy is complete.
"""

from __future__ import annotations

import argparse
import logging

import redis

from replication.config import SchemaRule
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.full_copy import make_job, run_copy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-port", type=int, required=True)
    parser.add_argument("--target-port", type=int, required=True)
    parser.add_argument("--job-id", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Only ports are needed: the servers are already running and owned by the test.
    source = MariaDBServer(port=args.source_port, base_dir="/nonexistent-source")
    target = MariaDBServer(port=args.target_port, base_dir="/nonexistent-target")
    job = make_job(args.job_id, source, target, (SchemaRule(table_schema=args.schema),),
                   chunk_size=args.chunk_size)
    position, _ = run_copy(job, redis.Redis.from_url(args.redis_url), timeout=600)
    print(f"DONE {position}", flush=True)


if __name__ == "__main__":
    main()
