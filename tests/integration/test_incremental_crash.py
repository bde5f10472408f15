"""SIGKILL of the dest or src process at random points under writes: no loss, no duplicate.

Each runner runs in its own process (``python -m replication.cli``). The workload increments
``counter.n`` (``n = n + 1``) and inserts fresh keys into ``log``: a transaction applied twice
would fail on a duplicate key or leave the checksums different; one lost would too.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
from pathlib import Path

import pymysql
import pytest
import redis

from scripts.cluster import wait_for
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.cli_tasks import assert_running, spawn_task, stop_tasks
from tests.support.digest import schema_digest, wait_equal
from tests.support.workload import Workload, create_tables


def _job_file(tmp_path: Path, job_id: str, source: MariaDBServer, target: MariaDBServer,
              schema: str) -> Path:
    job = {"job_id": job_id, "job_name": job_id, "job_type": "migration",
           "src_task": {"mysql_connection_config": source.connection_config(), "chunk_size": 500,
                        "group_max_size": 16384, "replicate_do_db": [{"table_schema": schema}]},
           "dest_task": {"mysql_connection_config": target.connection_config(), "parallel_workers": 2}}
    # Job ids from the fixture already end in "-migration".
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    return path


def _applied(target: MariaDBServer, schema: str) -> int:
    """The counter increments the target holds: one per applied workload transaction that
    increments (-1 before the copy created the table)."""
    try:
        return int(target.execute(f"SELECT IFNULL(SUM(n), 0) FROM `{schema}`.counter")[0][0])
    except pymysql.err.ProgrammingError:
        return -1


def _wait_applied(target: MariaDBServer, schema: str, workload: Workload, more: int,
                  procs: dict[str, subprocess.Popen[bytes]], log_dir: Path) -> None:
    """Wait until the workload wrote ``more`` transactions and the target applied some of them."""
    mark, applied = workload.transactions, _applied(target, schema)

    def moved() -> bool:
        assert_running(procs, log_dir)
        return workload.transactions >= mark + more and _applied(target, schema) > applied

    wait_for(moved, 120, f"{more} more source transactions and progress on the target")


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["dest", "src"])
def test_sigkill_then_restart_applies_each_transaction_once(
    victim: str, source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str, tmp_path: Path,
) -> None:
    create_tables(source_server, fresh_schema, rows=5000)
    job_file = _job_file(tmp_path, job_id, source_server, target_server, fresh_schema)
    procs = {task: spawn_task(task, job_file, tmp_path) for task in ("src", "dest")}
    workload = Workload(source_server, fresh_schema).start(pause=0.001)
    rng = random.Random(hash(victim))
    try:
        for _ in range(3):
            # Killed in the middle of work: after the target applied some of the source's
            # newest transactions (a random number of them), whatever the machine's speed.
            _wait_applied(target_server, fresh_schema, workload, rng.randint(50, 400), procs, tmp_path)
            os.kill(procs[victim].pid, signal.SIGKILL)
            procs[victim].wait()
            procs[victim] = spawn_task(victim, job_file, tmp_path)
        _wait_applied(target_server, fresh_schema, workload, 50, procs, tmp_path)
        workload.stop()
        wait_equal(source_server, target_server, fresh_schema, timeout=120,
                   check=lambda: assert_running(procs, tmp_path))
        assert schema_digest(target_server, fresh_schema) == schema_digest(source_server, fresh_schema)
        counts = source_server.execute(f"SELECT SUM(n) FROM `{fresh_schema}`.counter")[0][0]
        assert target_server.execute(f"SELECT SUM(n) FROM `{fresh_schema}`.counter")[0][0] == counts
    finally:
        workload.stop()
        stop_tasks(procs)
        redis_client.delete(f"dtle:stream:{job_id}")
