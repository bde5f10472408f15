"""A 200,000-row source transaction, and an UPDATE of all its rows, during the mixed workload."""

from __future__ import annotations

import time

import pytest
import redis

from replication.runners import DestRunner, SrcRunner
from scripts.cluster import wait_for
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import schema_digest, wait_equal
from tests.support.incremental import make_job, start_runner
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
        # The large transaction after the copy, which runs under the workload.
        wait_for(lambda: ("Driver", "job_stage_incr") in dest.events, 120, "the copy to finish")
        conn = source_server.connect(database=s)
        with conn.cursor() as cur:
            # Ids below the workload's (1,000,000 up), each statement its own transaction.
            cur.execute(f"INSERT INTO log SELECT seq, 0, NULL FROM seq_1_to_{ROWS}")
            cur.execute(f"UPDATE log SET item = item + 1, ts = '2024-05-06 07:08:09.5' WHERE id <= {ROWS}")
        conn.close()
        mark = workload.transactions
        wait_for(lambda: workload.transactions >= mark + 20, 60, "writes after the large ones")
        workload.stop()
        started = time.monotonic()
        wait_equal(source_server, target_server, s, timeout=240, runners=(src, dest))
        print(f"converged {time.monotonic() - started:.1f}s after the last write")
    finally:
        workload.stop()
        src.stop(30)
        dest.stop(30)
    assert ("Driver", "job_stage_full") in dest.events and ("Driver", "job_stage_incr") in dest.events
    assert schema_digest(target_server, s)["log"][0] >= ROWS
    big = f"SELECT COUNT(*), SUM(item) FROM `{s}`.log WHERE id <= {ROWS}"
    assert target_server.execute(big)[0] == source_server.execute(big)[0] == (ROWS, ROWS)
