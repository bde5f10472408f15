"""A 200,000-row source transaction, and an UPDATE of all its rows, during the mixed workload."""

from __future__ import annotations

import time

import pytest
import redis

from replication.runners import DestRunner, SrcRunner
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.incremental import make_job, start_runner, table_summary, wait_converged
from tests.support.workload import Workload, create_tables

ROWS = 200_000


@pytest.mark.slow
def test_a_200k_row_transaction_replicates_after_the_full_copy(
    source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str,
) -> None:
    s = fresh_schema
    create_tables(source_server, s, rows=5_000)
    workload = Workload(source_server, s).start()
    job = make_job(job_id, source_server, target_server, s, chunk_size=1000,
                   group_max_size=65536, workers=2)
    dest = start_runner(DestRunner, job, redis_client)
    src = start_runner(SrcRunner, job, redis_client)
    try:
        time.sleep(3)  # the full copy runs under the workload
        conn = source_server.connect(database=s)
        with conn.cursor() as cur:
            # Ids below the workload's (1,000,000 up), each statement its own transaction.
            cur.execute(f"INSERT INTO log SELECT seq, 0, NULL FROM seq_1_to_{ROWS}")
            cur.execute(f"UPDATE log SET item = item + 1, ts = '2024-05-06 07:08:09.5' WHERE id <= {ROWS}")
        conn.close()
        time.sleep(1)
        workload.stop()
        started = time.monotonic()
        wait_converged(source_server, target_server, s, timeout=240, runners=(src, dest))
        print(f"converged {time.monotonic() - started:.1f}s after the last write")
    finally:
        workload.stop()
        src.stop(30)
        dest.stop(30)
    assert ("Driver", "job_stage_full") in dest.events and ("Driver", "job_stage_incr") in dest.events
    assert table_summary(target_server, s)["log"][0] >= ROWS
    big = f"SELECT COUNT(*), SUM(item) FROM `{s}`.log WHERE id <= {ROWS}"
    assert target_server.execute(big)[0] == source_server.execute(big)[0] == (ROWS, ROWS)
