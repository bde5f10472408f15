"""Every column type crosses the binlog path with its exact value: zero and partly zero dates,
YEAR 0000, negative TIME with fractions, TIMESTAMP bounds, DECIMAL extremes, charsets, BLOBs."""

from __future__ import annotations

import time

import redis

from replication.runners import DestRunner, SrcRunner
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import wait_equal
from tests.support.incremental import make_job, start_runner, wait_streaming

COLUMNS = """
  id INT PRIMARY KEY,
  d DATE NULL, dn DATE NOT NULL DEFAULT '2000-01-01',
  dt DATETIME(6) NULL, dt0 DATETIME NULL, ts TIMESTAMP(3) NULL DEFAULT NULL,
  tm TIME(6) NULL, tm1 TIME(1) NULL, y YEAR NULL,
  dec1 DECIMAL(65,30) NULL, dec2 DECIMAL(10,0) UNSIGNED NULL, f FLOAT NULL, db DOUBLE NULL,
  b BIT(10) NULL, e ENUM('a','b','c') NULL, s SET('x','y','z') NULL,
  vc VARCHAR(20) CHARACTER SET latin1 NULL, g VARCHAR(20) CHARACTER SET gbk NULL,
  u8 VARCHAR(20) CHARACTER SET utf8mb4 NULL, bin BINARY(4) NULL, vb VARBINARY(8) NULL,
  bl BLOB NULL, tx TEXT NULL, js JSON NULL, big BIGINT UNSIGNED NULL
"""

ROWS = [
    "(1, '0000-00-00', '0000-00-00', '0000-00-00 00:00:00', '2024-00-15 10:00:00', NULL,"
    " '-838:59:59.000000', '-00:00:01.5', 0,"
    " -99999999999999999999999999999999999.999999999999999999999999999999,"
    " 9999999999, 1.5, -2.2250738585072014e-308, b'1010101010', 'b', 'x,z', 'caf\xe9', '中文',"
    " '😀 ok', 'ab', 0x00ff, 0x00010203, 'long text', '{\"k\": [1, 2.5, null]}', 18446744073709551615)",
    "(2, '2024-02-00', '1000-01-01', '9999-12-31 23:59:59.999999', '1970-01-01 00:00:01',"
    " '2038-01-19 03:14:07.999', '838:59:59.999999', '25:00:00.1', 2155, 0.000000000000000000000000000001,"
    " 0, -0.0, 1e308, b'0', '', '', '', '', '', '', '', '', '', '[]', 0)",
    "(3, NULL, '2024-02-29', '2024-02-29 12:34:56.700000', NULL, '1970-01-01 00:00:01.5',"
    " '-00:00:00.000001', '00:00:00', 1901, 12.3, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
]


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
