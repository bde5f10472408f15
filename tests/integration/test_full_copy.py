"""The full copy against two real MariaDB servers: every type, key shape, rename and filter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from replication.config import SchemaRule, TableRule
from replication.mysql import connect
from replication.sinks.mysql.snapshot_checkpoint import load_snapshot_resume
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import table_digest
from tests.support.every_type import TYPES_DDL, TYPES_ROWS
from tests.support.full_copy import make_job, run_copy
from tests.support.incremental import conn_cfg


@pytest.fixture
def schemas(fresh_schema: str, source_server: MariaDBServer,
            target_server: MariaDBServer) -> Iterator[str]:
    yield fresh_schema
    for name in (f"{fresh_schema}_t", f"{fresh_schema}_x", f"{fresh_schema}_y"):
        source_server.execute(f"DROP DATABASE IF EXISTS `{name}`")
        target_server.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _run_sql(server: MariaDBServer, schema: str, statements: list[str]) -> None:
    conn = server.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{schema}`")
            cur.execute(f"USE `{schema}`")
            cur.execute("SET SESSION sql_mode = '', time_zone = '+00:00'")
            for sql in statements:
                cur.execute(sql)
    finally:
        conn.close()


def _build_source(server: MariaDBServer, schema: str) -> None:
    many = ", ".join(f"({i}, {i % 7}, 'v{i}')" for i in range(1, 301))
    _run_sql(server, schema, [
        TYPES_DDL,
        f"INSERT INTO types VALUES {', '.join(TYPES_ROWS)}",
        "CREATE TABLE comp_a (a INT NOT NULL, b VARCHAR(20) COLLATE utf8mb4_general_ci NOT NULL,"
        " v INT, PRIMARY KEY (a, b))",
        "INSERT INTO comp_a VALUES (1,'a',1),(1,'B',2),(1,'c',3),(1,'\u00e9',4),(1,'Z',5),"
        "(2,'a',6),(2,'b ',7),(2,'C',8),(3,'x',9),(3,'y',10),(3,'\U0001F600',11)",
        "CREATE TABLE uk (id INT NULL, code VARCHAR(20) NOT NULL, other INT NULL,"
        " v TEXT, UNIQUE KEY (other), UNIQUE KEY (code))",
        "INSERT INTO uk VALUES " + ", ".join(f"({i}, 'c{i:03d}', NULL, 't{i}')" for i in range(40)),
        "CREATE TABLE nokey (a INT, b TEXT)",
        "INSERT INTO nokey VALUES (1,'x'),(1,'x'),(2,NULL),(NULL,NULL),(3,'y'),(3,'y'),(3,'y')",
        "CREATE TABLE filtered (id INT PRIMARY KEY, k INT, v VARCHAR(20))",
        f"INSERT INTO filtered VALUES {many}",
        "CREATE TABLE mapped (a INT PRIMARY KEY, b INT, c VARCHAR(20))",
        "INSERT INTO mapped VALUES (1, 10, 'one'), (2, 20, 'two'), (3, 30, NULL)",
        "CREATE TABLE skipped (id INT PRIMARY KEY)",
    ])


def _rules(schema: str) -> tuple[SchemaRule, ...]:
    return (SchemaRule(table_schema=schema, table_schema_rename=f"{schema}_t", tables=(
        TableRule(table_name="types"),
        TableRule(table_regex="^comp_(.*)$", table_rename="renamed_${1}"),
        TableRule(table_name="uk"),
        TableRule(table_name="nokey"),
        TableRule(table_name="filtered", where="k = 3 OR v LIKE 'v1%'"),
        TableRule(table_name="mapped", column_map_from=("c", "a")),
    )),)


def test_it_copies_every_type_key_shape_rename_and_filter(
        source_server: MariaDBServer, target_server: MariaDBServer,
        redis_client: redis.Redis, job_id: str, schemas: str) -> None:
    schema, target = schemas, f"{schemas}_t"
    _build_source(source_server, schema)
    _run_sql(target_server, target, ["CREATE TABLE mapped (c VARCHAR(20), a INT PRIMARY KEY)"])
    job = make_job(job_id, source_server, target_server, _rules(schema), chunk_size=3)

    position, applier = run_copy(job, redis_client)

    assert position.file and position.gtid_set
    assert applier.done is not None and applier.done.tables == 6
    for src, dst in [("types", "types"), ("comp_a", "renamed_a"), ("uk", "uk"),
                     ("nokey", "nokey")]:
        assert table_digest(target_server, target, dst) == \
            table_digest(source_server, schema, src), src
    assert table_digest(target_server, target, "filtered") == table_digest(
        source_server, schema, "filtered", where="k = 3 OR v LIKE 'v1%'")
    assert table_digest(target_server, target, "mapped", ["c", "a"]) == \
        table_digest(source_server, schema, "mapped", ["c", "a"])
    tables = {r[0] for r in target_server.execute(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (target,))}
    assert tables == {"types", "renamed_a", "uk", "nokey", "filtered", "mapped"}
    # The generated columns are recomputed by the target, and equal.
    assert target_server.execute(f"SELECT SUM(gen), GROUP_CONCAT(gens) FROM `{target}`.types") \
        == source_server.execute(f"SELECT SUM(gen), GROUP_CONCAT(gens) FROM `{schema}`.types")
    resume = load_snapshot_resume(lambda: connect(conn_cfg(target_server)), job_id)
    assert resume.done is not None and all(t.done for t in resume.tables.values())
