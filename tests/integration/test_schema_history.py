"""Sources whose binlog has no column names (MariaDB's default NO_LOG, and MINIMAL): a full copy of
every type and the mixed workload, then DDL while the job runs and while it is paused (columns
added FIRST, dropped, moved, renamed, a table renamed, a charset converted), rows after each; the
target must equal the source (count and sum of per-row CRC32)."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator

import pytest
import redis

from replication.runners import DestRunner, SrcRunner
from replication.sinks.mysql.schema_history import load_history
from replication.wire.transport import RedisTransport
from scripts.cluster import wait_for
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import schema_digest, wait_equal
from tests.support.every_type import TYPES_DDL, TYPES_ROWS
from tests.support.incremental import Running, make_job, start_runner, wait_streaming
from tests.support.workload import Workload, create_tables

EVOLVING = ("CREATE TABLE evolving (id INT PRIMARY KEY, b VARCHAR(20), x INT UNSIGNED, "
            "c SMALLINT, e ENUM('p','q'), l VARCHAR(10) CHARACTER SET latin1)")
WHILE_RUNNING = [
    "INSERT INTO evolving VALUES (1, 'one', 4000000000, -5, 'q', 'caf\u00e9')",
    "ALTER TABLE evolving ADD COLUMN a0 BIGINT UNSIGNED NOT NULL DEFAULT 18446744073709551615 FIRST",
    "INSERT INTO evolving (id, b, x, c, e, l) VALUES (2, 'two', 1, 2, 'p', '\u00e9t\u00e9')",
    "ALTER TABLE evolving DROP COLUMN x",
    "INSERT INTO evolving (id, b, c, e, l) VALUES (3, 'three', 3, 'q', 'na\u00efve')",
    "ALTER TABLE evolving MODIFY COLUMN c INT AFTER a0",
    "INSERT INTO evolving (id, b, c, l) VALUES (4, 'four', -2000000000, '\u00fc')",
    "ALTER TABLE items ADD COLUMN extra INT DEFAULT 5 FIRST, MODIFY note MEDIUMTEXT AFTER extra",
    "UPDATE evolving SET b = 'moved' WHERE id = 1",
]
WHILE_PAUSED = [
    "ALTER TABLE evolving CHANGE COLUMN b bee VARCHAR(30) CHARACTER SET utf8mb4 AFTER l",
    "INSERT INTO evolving (id, bee, c, e) VALUES (5, 'five', 5, 'p')",
    "ALTER TABLE evolving RENAME COLUMN e TO ee, ADD COLUMN s SET('x','y') AFTER id",
    "INSERT INTO evolving (id, s, ee, l) VALUES (6, 'x,y', 'q', 'd\u00e9j\u00e0')",
    "RENAME TABLE evolving TO evolved",
    "INSERT INTO evolved (id, bee) VALUES (7, 'seven')",
    "ALTER TABLE evolved CONVERT TO CHARACTER SET gbk",
    "INSERT INTO evolved (id, bee, l) VALUES (8, '\u4e2d\u6587', '\u6d4b\u8bd5')",
    "ALTER TABLE types ADD COLUMN z INT FIRST, DROP COLUMN dz",
    "UPDATE evolved SET c = c + 1, l = '\u6587' WHERE id <= 4",
    "DELETE FROM evolved WHERE id = 2",
    "CREATE TABLE later (id INT PRIMARY KEY, u TINYINT UNSIGNED, t TEXT CHARACTER SET latin1)",
    "INSERT INTO later VALUES (1, 255, 'ol\u00e9')",
]


@pytest.fixture(params=["NO_LOG", "MINIMAL", "FULL"])
def source(request: pytest.FixtureRequest, source_server: MariaDBServer,
           minimal_metadata_server: MariaDBServer,
           full_metadata_server: MariaDBServer) -> MariaDBServer:
    """Each row-metadata setting; with FULL the binlog's names are checked against the history."""
    return {"NO_LOG": source_server, "MINIMAL": minimal_metadata_server,
            "FULL": full_metadata_server}[request.param]


@pytest.fixture
def schema(source: MariaDBServer, target_server: MariaDBServer) -> Iterator[str]:
    name = f"db_{uuid.uuid4().hex[:8]}"
    yield name
    for server in (source, target_server):
        server.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _run(server: MariaDBServer, schema: str, statements: list[str]) -> None:
    conn = server.connect(database=schema)
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION sql_mode = '', time_zone = '+00:00'")
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


def _start(job: object, client: redis.Redis) -> tuple[Running, Running]:
    return start_runner(SrcRunner, job, client), start_runner(DestRunner, job, client)


def test_ddl_while_running_and_while_paused_replicates_exactly(
        source: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
        job_id: str, schema: str) -> None:
    create_tables(source, schema, rows=500)
    _run(source, schema, [TYPES_DDL, f"INSERT INTO types VALUES {', '.join(TYPES_ROWS)}", EVOLVING])
    job = make_job(job_id, source, target_server, schema)
    src, dest = _start(job, redis_client)
    workload = Workload(source, schema).start()
    try:
        _run(source, schema, WHILE_RUNNING)
        mark = workload.transactions
        wait_for(lambda: workload.transactions >= mark + 20, 60, "writes after the DDL")
        workload.stop()
        wait_equal(source, target_server, schema, (src, dest))
        src.stop()
        dest.stop()
        # Paused: the source moves on across several DDLs; the src resumes behind them.
        paused = Workload(source, schema, first_id=5_000_000, seed=11)
        paused.run(count=100)
        _run(source, schema, WHILE_PAUSED)
        paused.run(count=200)
        _run(source, schema, [f"INSERT INTO types (id, {', '.join(_types_columns(source, schema))})"
                              f" SELECT id + 100, {', '.join(_types_columns(source, schema))} "
                              "FROM types"])
        src, dest = _start(job, redis_client)
        wait_equal(source, target_server, schema, (src, dest))
    finally:
        workload.stop()
        src.stop()
        dest.stop()
    sums = schema_digest(target_server, schema)
    assert sums["evolved"][0] == 7 and sums["later"][0] == 1 and sums["types"][0] == 8
    assert "evolving" not in sums
    assert target_server.execute(f"SELECT id, s, ee, bee FROM `{schema}`.evolved WHERE id IN (5, 6)") \
        == [(5, None, "p", "five"), (6, "x,y", "q", None)]


def _types_columns(server: MariaDBServer, schema: str) -> list[str]:
    """The insertable columns of ``types`` other than its key (generated ones left out)."""
    rows = server.execute("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s "
                          "AND TABLE_NAME='types' AND EXTRA NOT LIKE '%%GENERATED%%' AND "
                          "COLUMN_NAME <> 'id' ORDER BY ORDINAL_POSITION", (schema,))
    return [f"`{name}`" for (name,) in rows]


def test_a_src_that_read_past_ddls_restarts_behind_them_with_the_older_columns(
        source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
        job_id: str, fresh_schema: str) -> None:
    """The src records a DDL's version before sending what follows it; if what it sent is lost
    (here: the transport stream deleted), it restarts from the target's checkpoint, before
    those DDLs, and must decode the rows there with the versions at that checkpoint."""
    s = fresh_schema
    for server in (source_server, target_server):
        server.execute(f"CREATE DATABASE `{s}`")
        server.execute(f"CREATE TABLE `{s}`.t (id INT PRIMARY KEY, a VARCHAR(10), b INT)")
    job = make_job(job_id, source_server, target_server, s, auto_gtid=True)
    src, dest = _start(job, redis_client)
    try:
        wait_streaming(src)  # auto_gtid: the src takes its position first
        _run(source_server, s, ["INSERT INTO t VALUES (1, 'one', 1)"])
        wait_equal(source_server, target_server, s, (src, dest))
        dest.stop()  # the target stops here; the src reads on, past two DDLs
        _run(source_server, s, ["INSERT INTO t VALUES (2, 'two', 2)",
                                "ALTER TABLE t DROP COLUMN a",
                                "INSERT INTO t VALUES (3, 3)",
                                "ALTER TABLE t ADD COLUMN c DATETIME FIRST",
                                "INSERT INTO t VALUES ('2024-01-02 03:04:05', 4, 4)"])
        # The base, then one version per DDL, kept before sending.
        wait_for(lambda: len(load_history(target_server.connect, job_id).versions) == 3, 30,
                 "a version per DDL")
        src.stop()
        RedisTransport(redis_client, job_id).delete()
        src, dest = _start(job, redis_client)
        wait_equal(source_server, target_server, s, (src, dest))
    finally:
        src.stop()
        dest.stop()
    assert [tuple(r) for r in target_server.execute(f"SELECT * FROM `{s}`.t ORDER BY id")][-1] == \
        (datetime.datetime(2024, 1, 2, 3, 4, 5), 4, 4)


def test_a_job_started_before_an_unseen_ddl_stops_instead_of_misdecoding(
        source_server: MariaDBServer, target_server: MariaDBServer, redis_client: redis.Redis,
        job_id: str, fresh_schema: str) -> None:
    """Without FULL metadata, a job started from a past GTID takes today's definitions; a row
    written before a DDL since then does not match its table map and stops the task."""
    s = fresh_schema
    for server in (source_server, target_server):
        server.execute(f"CREATE DATABASE `{s}`")
        server.execute(f"CREATE TABLE `{s}`.t (id INT PRIMARY KEY, a VARCHAR(10))")
    past = source_server.execute("SELECT @@GLOBAL.gtid_binlog_pos")[0][0]
    _run(source_server, s, ["INSERT INTO t VALUES (1, 'before')", "ALTER TABLE t ADD b INT",
                            "INSERT INTO t VALUES (2, 'after', 2)"])
    job = make_job(job_id, source_server, target_server, s, gtid=past)
    src = start_runner(SrcRunner, job, redis_client)
    src.thread.join(30)
    if src.thread.is_alive():
        src.stop()
    assert src.error, "the src must stop"
    message = str(src.error[0])
    assert f"table map of {s}.t at mysql-bin." in message and "has 2 columns" in message, message
