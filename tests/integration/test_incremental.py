"""Incremental replication from a given position: the target ends equal to the source."""

from __future__ import annotations

import redis

from replication.runners import DestRunner, SrcRunner
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import wait_equal
from tests.support.incremental import make_job, start_runner, wait_streaming


def _prepare(source: MariaDBServer, target: MariaDBServer, schema: str) -> None:
    for server in (source, target):
        server.execute(f"CREATE DATABASE `{schema}`")
        server.execute(f"CREATE TABLE `{schema}`.t (id INT PRIMARY KEY, v VARCHAR(40), n INT, "
                       "u INT, UNIQUE KEY (u))")
        server.execute(f"CREATE TABLE `{schema}`.nokey (a INT, b VARCHAR(10))")


def test_mixed_writes_from_auto_gtid_converge(source_server: MariaDBServer, target_server: MariaDBServer,
                                               redis_client: redis.Redis, job_id: str,
                                               fresh_schema: str) -> None:
    s = fresh_schema
    _prepare(source_server, target_server, s)
    job = make_job(job_id, source_server, target_server, s, auto_gtid=True, group_max_size=4096)
    src = start_runner(SrcRunner, job, redis_client)
    dest = start_runner(DestRunner, job, redis_client)
    try:
        wait_streaming(src)  # auto_gtid: writes after the src took its position
        conn = source_server.connect(database=s)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO t VALUES (%s, %s, %s, %s)",
                            [(i, f"v{i}", 0, i) for i in range(1, 301)])
            cur.execute("UPDATE t SET n = n + 1 WHERE id <= 100")
            cur.execute("UPDATE t SET id = id + 1000 WHERE id BETWEEN 50 AND 60")  # key changes
            cur.execute("DELETE FROM t WHERE id BETWEEN 200 AND 250")
            conn.begin()
            cur.execute("INSERT INTO t VALUES (5000, 'x', 1, 5000)")
            cur.execute("UPDATE t SET v = 'y' WHERE id = 5000")
            cur.execute("INSERT INTO nokey VALUES (1, 'a'), (1, 'a'), (2, NULL)")
            conn.commit()
            cur.execute("UPDATE nokey SET b = 'z' WHERE a = 1 LIMIT 1")
            cur.execute("DELETE FROM nokey WHERE b IS NULL")
            cur.execute("ALTER TABLE t ADD COLUMN extra VARCHAR(20) DEFAULT 'd'")
            cur.execute("UPDATE t SET extra = 'e' WHERE id < 20")
            cur.execute("CREATE TABLE t2 (id INT PRIMARY KEY, w INT)")
            cur.execute("INSERT INTO t2 VALUES (1, 1), (2, 2)")
        conn.close()
        wait_equal(source_server, target_server, s, runners=(src, dest))
    finally:
        assert src.stop() < 3
        assert dest.stop() < 3
    assert ("Driver", "job_stage_incr") in dest.events
    assert not src.error and not dest.error
