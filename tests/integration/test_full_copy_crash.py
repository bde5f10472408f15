"""A full copy killed with SIGKILL half way resumes from its checkpoint, without duplicates."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from replication.wire.transport import stream_key
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import table_digest
from tests.support.redis_urls import REDIS_TEST_URL

ROOT = Path(__file__).resolve().parents[2]
BIG_ROWS = 200_000
NOKEY_ROWS = 100_000


def _build(server: MariaDBServer, schema: str) -> None:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{schema}`")
            cur.execute(f"USE `{schema}`")
            cur.execute("CREATE TABLE big (id INT PRIMARY KEY, n BIGINT, s VARCHAR(40),"
                        " d DATETIME(6), x DECIMAL(12,4))")
            cur.execute(f"INSERT INTO big SELECT seq, seq * 7919, CONCAT('row-', seq, '-\u00e9'),"
                        f" '2020-01-01' + INTERVAL seq SECOND, seq / 7 FROM seq_1_to_{BIG_ROWS}")
            cur.execute("CREATE TABLE nokey (a INT, b VARCHAR(20))")
            cur.execute(f"INSERT INTO nokey SELECT seq % 100, CONCAT('v', seq % 37)"
                        f" FROM seq_1_to_{NOKEY_ROWS}")
    finally:
        conn.close()


def _start(source: MariaDBServer, target: MariaDBServer, job_id: str, schema: str,
           log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.snapshot_driver",
         "--source-port", str(source.port), "--target-port", str(target.port),
         "--job-id", job_id, "--schema", schema, "--chunk-size", "500",
         "--redis-url", REDIS_TEST_URL],
        cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )


def _progress(target: MariaDBServer, job_id: str) -> dict[str, tuple[int, int]]:
    """(rows_done, done) per source table."""
    try:
        rows = target.execute("SELECT source_table, rows_done, done FROM dtle.snapshot_checkpoint"
                              " WHERE job_id = %s", (job_id,))
    except Exception:  # the checkpoint table may not exist yet
        return {}
    return {str(table): (int(n), int(done)) for table, n, done in rows}


def _half_way(progress: dict[str, tuple[int, int]]) -> bool:
    """The keyed table part copied and the keyless one not finished (usually part copied:
    both are read at once, but how far the keyless one got is up to the scheduler)."""
    big, nokey = progress.get("big", (0, 0)), progress.get("nokey", (0, 0))
    return big[0] >= 10_000 and not big[1] and not nokey[1]


@pytest.mark.slow
def test_a_killed_copy_resumes_after_its_checkpoint(
        source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
        job_id: str, fresh_schema: str, tmp_path: Path) -> None:
    _build(source_server, fresh_schema)
    first = _start(source_server, target_server, job_id, fresh_schema, tmp_path / "first.log")
    deadline = time.time() + 120
    while not _half_way(_progress(target_server, job_id)):
        assert first.poll() is None, (tmp_path / "first.log").read_text()
        assert time.time() < deadline, "the copy made no progress"
        time.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    at_kill = _progress(target_server, job_id)
    assert at_kill["big"][0] < BIG_ROWS

    second = _start(source_server, target_server, job_id, fresh_schema, tmp_path / "second.log")
    assert second.wait(300) == 0, (tmp_path / "second.log").read_text()

    log = (tmp_path / "second.log").read_text()
    assert f"resuming table `{fresh_schema}`.`big` after the last key of chunk" in log
    if at_kill.get("nokey", (0, 0))[0] > 0:
        assert f"restarting table `{fresh_schema}`.`nokey` from its first row" in log
    assert "starting table `" + fresh_schema + "`.`big`" not in log
    assert "DONE mysql-bin." in log
    for table in ("big", "nokey"):
        assert table_digest(target_server, fresh_schema, table) == \
            table_digest(source_server, fresh_schema, table), table
    assert redis_client.exists(stream_key(job_id)) == 0
