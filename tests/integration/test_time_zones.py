"""TIMESTAMP values are instants: with the source, the target and the worker each in another time
zone, the target holds the same instants after the full copy and after binlog replication."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import redis

from replication.runners import DestRunner, SrcRunner
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.incremental import make_job, start_runner

TABLE = ("CREATE TABLE `{s}`.moments (id INT PRIMARY KEY, ts TIMESTAMP(6) NULL, dt DATETIME(6), "
         "ts0 TIMESTAMP NULL)")
# Written in the source's time zone (+05:00): DST days and the TIMESTAMP range's ends.
ROWS = ["(1, '2024-03-31 02:30:00.5', '2024-03-31 02:30:00.5', '2024-10-27 02:59:59')",
        "(2, '1970-01-01 05:00:01', '1970-01-01 05:00:01', '2038-01-19 08:14:07')",
        "(3, NOW(6), NOW(6), NULL)"]


@pytest.fixture
def zones(source_server: MariaDBServer, target_server: MariaDBServer) -> Iterator[None]:
    """Source at +05:00, target at America/... style -07:00, worker at UTC-10 (Honolulu)."""
    before = os.environ.get("TZ")
    source_server.execute("SET GLOBAL time_zone = '+05:00'")
    target_server.execute("SET GLOBAL time_zone = '-07:00'")
    os.environ["TZ"] = "Pacific/Honolulu"
    time.tzset()
    try:
        yield
    finally:
        source_server.execute("SET GLOBAL time_zone = 'SYSTEM'")
        target_server.execute("SET GLOBAL time_zone = 'SYSTEM'")
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def _instants(server: MariaDBServer, schema: str) -> list[tuple[object, ...]]:
    """Each row's TIMESTAMPs as seconds since the epoch (independent of any time zone) and its
    DATETIME as text (a DATETIME has no zone: it must be copied as written)."""
    return [tuple(r) for r in server.execute(
        f"SELECT id, UNIX_TIMESTAMP(ts), UNIX_TIMESTAMP(ts0), CAST(dt AS CHAR) "
        f"FROM `{schema}`.moments ORDER BY id")]


def test_timestamps_keep_their_instant_across_time_zones(
        zones: None, source_server: MariaDBServer, target_server: MariaDBServer,
        redis_client: redis.Redis, job_id: str, fresh_schema: str) -> None:
    s = fresh_schema
    source_server.execute(f"CREATE DATABASE `{s}`")
    source_server.execute(TABLE.format(s=s))
    source_server.execute(f"INSERT INTO `{s}`.moments VALUES {ROWS[0]}, {ROWS[1]}")
    job = make_job(job_id, source_server, target_server, s)  # full copy, then the binlog
    src, dest = start_runner(SrcRunner, job, redis_client), start_runner(DestRunner, job, redis_client)
    try:
        deadline = time.monotonic() + 60
        while len(_instants(target_server, s) if _exists(target_server, s) else []) < 2:
            assert not src.error and not dest.error, (src.error, dest.error)
            assert time.monotonic() < deadline, "the full copy did not arrive"
            time.sleep(0.3)
        source_server.execute(f"INSERT INTO `{s}`.moments VALUES {ROWS[2]}")
        source_server.execute(f"UPDATE `{s}`.moments SET ts = ts + INTERVAL 1 SECOND WHERE id = 1")
        while _instants(target_server, s) != _instants(source_server, s):
            assert not src.error and not dest.error, (src.error, dest.error)
            assert time.monotonic() < deadline, (_instants(source_server, s), _instants(target_server, s))
            time.sleep(0.3)
    finally:
        src.stop()
        dest.stop()
    got = _instants(target_server, s)
    assert float(got[0][1]) == 1711834201.5  # 2024-03-31 02:30:01.5 at +05:00, as an instant
    # The TIMESTAMP range's first second and last one.
    assert (float(got[1][1]), got[1][2]) == (1.0, 2147483647)


def _exists(server: MariaDBServer, schema: str) -> bool:
    return bool(server.execute("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s "
                               "AND TABLE_NAME='moments'", (schema,)))
