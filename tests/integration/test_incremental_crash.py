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
import sys
import time
from pathlib import Path

import pytest
import redis

from scripts.mariadb_sandbox import MariaDBServer
from tests.support.incremental import table_summary
from tests.support.redis_urls import REDIS_TEST_URL
from tests.support.workload import Workload, create_tables

ROOT = Path(__file__).resolve().parents[2]


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


def _spawn(task: str, job_file: Path, log_dir: Path) -> subprocess.Popen[bytes]:
    out = open(log_dir / f"{task}.log", "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen([sys.executable, "-m", "replication.cli", task, "--job-config", str(job_file),
                             "--redis", REDIS_TEST_URL], cwd=ROOT, stdout=out, stderr=out)


@pytest.mark.slow
@pytest.mark.parametrize("victim", ["dest", "src"])
def test_sigkill_then_restart_applies_each_transaction_once(
    victim: str, source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str, tmp_path: Path,
) -> None:
    create_tables(source_server, fresh_schema, rows=5000)
    job_file = _job_file(tmp_path, job_id, source_server, target_server, fresh_schema)
    procs = {task: _spawn(task, job_file, tmp_path) for task in ("src", "dest")}
    workload = Workload(source_server, fresh_schema).start(pause=0.001)
    rng = random.Random(hash(victim))
    try:
        for _ in range(3):
            time.sleep(rng.uniform(1.5, 4.0))
            os.kill(procs[victim].pid, signal.SIGKILL)
            procs[victim].wait()
            procs[victim] = _spawn(victim, job_file, tmp_path)
        time.sleep(2)
        workload.stop()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for task, proc in procs.items():
                assert proc.poll() is None, f"{task} exited: {(tmp_path / f'{task}.log').read_text()[-3000:]}"
            if table_summary(source_server, fresh_schema) == table_summary(target_server, fresh_schema):
                break
            time.sleep(1)
        assert table_summary(target_server, fresh_schema) == table_summary(source_server, fresh_schema)
        counts = source_server.execute(f"SELECT SUM(n) FROM `{fresh_schema}`.counter")[0][0]
        assert target_server.execute(f"SELECT SUM(n) FROM `{fresh_schema}`.counter")[0][0] == counts
    finally:
        workload.stop()
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis_client.delete(f"dtle:stream:{job_id}")
