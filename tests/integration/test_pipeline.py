"""The whole pipeline: full copy while the source is written, then the binlog, then DDL."""

from __future__ import annotations

import redis

from replication.runners import DestRunner, SrcRunner
from scripts.cluster import wait_for
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import schema_digest, wait_equal
from tests.support.incremental import make_job, start_runner
from tests.support.workload import Workload, create_tables


def test_full_copy_then_binlog_converges_under_writes(
    source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
    job_id: str, fresh_schema: str,
) -> None:
    create_tables(source_server, fresh_schema, rows=20_000)
    workload = Workload(source_server, fresh_schema).start()
    job = make_job(job_id, source_server, target_server, fresh_schema, chunk_size=500,
                   group_max_size=65536, workers=2)
    dest = start_runner(DestRunner, job, redis_client)
    src = start_runner(SrcRunner, job, redis_client)
    try:
        # The DDL and the large transaction come after the copy, with the workload still on.
        wait_for(lambda: ("Driver", "job_stage_incr") in dest.events, 120, "the copy to finish")
        conn = source_server.connect(database=fresh_schema)
        with conn.cursor() as cur:
            cur.execute("ALTER TABLE items ADD COLUMN color VARCHAR(10) DEFAULT 'red'")
            cur.execute("UPDATE items SET color = 'blue' WHERE grp = 3")
            # One large transaction.
            conn.begin()
            cur.executemany("INSERT INTO log VALUES (%s, 0, NULL)", [(i,) for i in range(1, 20_001)])
            conn.commit()
        conn.close()
        mark = workload.transactions
        wait_for(lambda: workload.transactions >= mark + 20, 60, "writes after the large one")
        workload.stop()
        assert workload.transactions > 50
        wait_equal(source_server, target_server, fresh_schema, timeout=120, runners=(src, dest))
    finally:
        workload.stop()
        assert src.stop() < 3
        assert dest.stop() < 3
    assert ("Driver", "job_stage_full") in dest.events and ("Driver", "job_stage_incr") in dest.events
    assert schema_digest(target_server, fresh_schema)["log"][0] >= 20_000
    assert src.ctx.stats.read_master_tx_count > 0 and dest.ctx.stats.exec_master_tx_count > 0
