"""Every column type crosses the binlog path with its exact value: zero and partly zero dates,
YEAR 0000, negative TIME with fractions, TIMESTAMP bounds, DECIMAL extremes, charsets, BLOBs."""

from __future__ import annotations

import time

import redis

from replication.runners import DestRunner, SrcRunner
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import wait_equal
from tests.support.every_type import BINLOG_COLUMNS as COLUMNS
from tests.support.every_type import BINLOG_ROWS as ROWS
from tests.support.incremental import make_job, start_runner, wait_streaming


def _rows(server: MariaDBServer, schema: str) -> list[tuple[object, ...]]:
    cols = [c for (c,) in server.execute(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME='t'"
        " ORDER BY ORDINAL_POSITION", (schema,))]
    shown = ", ".join(f"HEX(`{c}`)" if c in ("f", "db", "b") else f"`{c}`" for c in cols)
    return server.execute(f"SELECT {shown} FROM `{schema}`.t ORDER BY id")


def test_every_type_replicates_exactly(source_server: MariaDBServer, target_server: MariaDBServer,
                                       redis_client: redis.Redis, job_id: str, fresh_schema: str) -> None:
    s = fresh_schema
    for server in (source_server, target_server):
        server.execute(f"CREATE DATABASE `{s}`")
        server.execute(f"CREATE TABLE `{s}`.t ({COLUMNS})")
    job = make_job(job_id, source_server, target_server, s, auto_gtid=True)
    src = start_runner(SrcRunner, job, redis_client)
    dest = start_runner(DestRunner, job, redis_client)
    try:
        wait_streaming(src)  # auto_gtid: write after the src took its position
        conn = source_server.connect(database=s)
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_mode = '', time_zone = '+05:00'")
            for row in ROWS:
                cur.execute(f"INSERT INTO t VALUES {row}")
            cur.execute("UPDATE t SET tm = '-01:02:03.4', d = '0000-00-00', y = 0 WHERE id = 3")
            cur.execute("UPDATE t SET dt0 = '0000-00-00 00:00:00', ts = '2000-01-01 00:00:00' WHERE id = 2")
        conn.close()
        deadline = time.monotonic() + 60
        while _rows(target_server, s) != _rows(source_server, s) and time.monotonic() < deadline:
            assert not src.error and not dest.error, (src.error, dest.error)
            time.sleep(0.5)
        for want, got in zip(_rows(source_server, s), _rows(target_server, s), strict=True):
            assert got == want  # one row at a time, so a failure shows the column that differs
        wait_equal(source_server, target_server, s, runners=(src, dest))
    finally:
        src.stop()
        dest.stop()
