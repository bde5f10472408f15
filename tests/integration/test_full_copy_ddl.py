"""DDL on the source while the full copy runs, at a chosen point of one table's copy: after the
tables were listed (and another table was read) but before that table's snapshot opened, or
between its snapshot opening and its first read. The job then replicates on, through more DDL;
the target must end equal to the source: the same columns, and per table the same count and sum
of per-row CRC32."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from replication.position import BinlogPosition
from replication.runners import DestRunner, SrcRunner
from replication.source import batch_reader, table_reader
from replication.source.batch_reader import BatchReader
from replication.source.table_reader import TableReader
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import wait_equal
from tests.support.incremental import make_job, start_runner

# Rows under the old definition, the DDL, rows under the new one: all before the table's
# snapshot, so all of it is in the copy and none of it may be replayed on top.
DURING_COPY = [
    "INSERT INTO t VALUES (1000, 5, 5)",
    "ALTER TABLE t DROP COLUMN gone",
    "ALTER TABLE t ADD COLUMN added VARCHAR(10) NOT NULL DEFAULT 'dflt' FIRST",
    "INSERT INTO t (id, added, kept) VALUES (1001, 'new', 7)",
    "UPDATE t SET added = 'upd', kept = kept + 1 WHERE id <= 3",
    "INSERT INTO early VALUES (1000, 'after the early copy')",
]
AFTER_COPY = [
    "ALTER TABLE t MODIFY kept BIGINT, ADD COLUMN later INT",
    "INSERT INTO t (id, added, kept, later) VALUES (1002, 'later', 9000000000, 1)",
    "UPDATE t SET later = id WHERE id <= 10",
    "DELETE FROM t WHERE id = 5",
]


def _run(server: MariaDBServer, schema: str, statements: list[str]) -> None:
    conn = server.connect(database=schema)
    try:
        with conn.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


def _columns(server: MariaDBServer, schema: str, table: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in server.execute(
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (schema, table))]


@pytest.fixture
def ddl_at(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
           source_server: MariaDBServer, fresh_schema: str) -> Iterator[threading.Event]:
    """Runs ``DURING_COPY`` at the point the test names, once ``early`` was read; returns the
    event that says it ran. Table ``t`` is read only after ``early`` (whose snapshot so comes
    first and starts the binlog window), whatever the order of the copy's readers."""
    early_read, ran = threading.Event(), threading.Event()
    original_open = table_reader.open_snapshot

    def hooked(original: Callable[[Any], BinlogPosition],
               tables: Callable[[Any], set[str]]) -> Callable[[Any], BinlogPosition]:
        def run(reader: Any) -> BinlogPosition:
            if "t" in tables(reader):
                assert early_read.wait(60), "early was never read"
                if request.param == "before its snapshot":
                    _run(source_server, fresh_schema, DURING_COPY)
                    ran.set()
            position = original(reader)
            if "early" in tables(reader):
                early_read.set()
            return position
        return run

    def open_snapshot(conn: Any) -> BinlogPosition:
        position = original_open(conn)
        if request.param == "after its snapshot opened" and early_read.is_set() and not ran.is_set():
            _run(source_server, fresh_schema, DURING_COPY)  # t's snapshot: open, not yet read
            ran.set()
        return position

    # Tables this small are read in batches (one snapshot for several tables); a table read
    # alone takes the same steps.
    monkeypatch.setattr(TableReader, "run", hooked(
        TableReader.run, lambda r: {r.spec.mapping.source_table}))
    monkeypatch.setattr(BatchReader, "run", hooked(
        BatchReader.run, lambda r: {s.mapping.source_table for s in r.specs}))
    monkeypatch.setattr(table_reader, "open_snapshot", open_snapshot)
    monkeypatch.setattr(batch_reader, "open_snapshot", open_snapshot)
    yield ran


@pytest.mark.parametrize("ddl_at", ["before its snapshot", "after its snapshot opened"],
                         indirect=True)
def test_a_table_altered_during_the_full_copy_ends_equal_on_the_target(
        ddl_at: threading.Event, source_server: MariaDBServer, target_server: MariaDBServer,
        redis_client: redis.Redis, job_id: str, fresh_schema: str) -> None:
    s = fresh_schema
    source_server.execute(f"CREATE DATABASE `{s}`")
    _run(source_server, s, [
        "CREATE TABLE early (id INT PRIMARY KEY, v VARCHAR(40))",
        "INSERT INTO early SELECT seq, CONCAT('row ', seq) FROM seq_1_to_300",
        "CREATE TABLE t (id INT PRIMARY KEY, gone INT, kept INT NOT NULL)",
        "INSERT INTO t SELECT seq, seq, seq * 2 FROM seq_1_to_100",
    ])
    job = make_job(job_id, source_server, target_server, s)
    src = start_runner(SrcRunner, job, redis_client)
    dest = start_runner(DestRunner, job, redis_client)
    try:
        wait_equal(source_server, target_server, s, (src, dest))
        assert ddl_at.is_set()
        _run(source_server, s, AFTER_COPY)
        wait_equal(source_server, target_server, s, (src, dest))
    finally:
        src.stop()
        dest.stop()
    for table in ("early", "t"):
        assert _columns(target_server, s, table) == _columns(source_server, s, table)
    assert target_server.execute(f"SELECT added, kept FROM `{s}`.t WHERE id IN (1, 1000, 1001) "
                                 "ORDER BY id") == [("upd", 3), ("dflt", 5), ("new", 7)]
