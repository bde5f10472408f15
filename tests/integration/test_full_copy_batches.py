"""Many small tables: read in batches (one snapshot each), loaded, and described in bulk
exactly as one table at a time would be."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from replication.config import SchemaRule
from replication.mysql import connect
from replication.scope.filters import TableFilter
from replication.sinks.mysql.snapshot_checkpoint import load_snapshot_resume
from replication.source.schema import read_table_def, read_table_defs
from replication.source.tables import describe_table, describe_tables
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import table_digest
from tests.support.full_copy import make_job, run_copy
from tests.support.incremental import conn_cfg


def test_bulk_catalog_reads_equal_the_per_table_ones(source_server: MariaDBServer,
                                                     fresh_schema: str) -> None:
    source_server.execute(f"CREATE DATABASE {fresh_schema}")
    conn = source_server.connect(database=fresh_schema)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE a (id INT PRIMARY KEY, j JSON, t LONGTEXT, e ENUM('x','y') NOT NULL,"
                    " u BIGINT UNSIGNED, g VARCHAR(3) CHARACTER SET gbk, UNIQUE KEY (e, id))"
                    " DEFAULT CHARSET latin1")
        cur.execute("CREATE TABLE b (k VARCHAR(8) NOT NULL, b BLOB, bt BIT(3), gen INT AS (1) VIRTUAL,"
                    " UNIQUE KEY (k))")
        cur.execute("CREATE TABLE c (x INT)")
    conn.close()
    conn = connect(conn_cfg(source_server))
    names = [(fresh_schema, t) for t in ("a", "b", "c")]
    defs = read_table_defs(conn, [*names, (fresh_schema, "missing")])
    assert set(defs) == set(names)
    for name in names:
        single = read_table_def(conn, *name)
        assert single is not None and defs[name] == single and defs[name].columns == single.columns
    job = make_job("batchdesc-migration", source_server, source_server,
                   (SchemaRule(table_schema=fresh_schema),))
    table_filter = TableFilter(job.src_task.replicate_do_db, ())
    mappings = [(m, 7) for t in ("a", "b", "c") if (m := table_filter.match(fresh_schema, t))]
    assert describe_tables(conn, mappings) == [describe_table(conn, m, 7) for m, _ in mappings]
    conn.close()


def test_many_small_tables_copy_exactly(source_server: MariaDBServer, target_server: MariaDBServer,
                                        fresh_schema: str, redis_client: Any, job_id: str) -> None:
    source_server.execute(f"CREATE DATABASE {fresh_schema}")
    conn = source_server.connect(database=fresh_schema)
    with conn.cursor() as cur:
        for n in range(120):
            cur.execute(f"CREATE TABLE s{n} (id INT PRIMARY KEY, k INT NOT NULL, v TEXT, KEY (k))")
            cur.execute(f"INSERT INTO s{n} SELECT seq, seq % 7, IF(seq % 5 = 0, NULL, "
                        f"CONCAT('v\\t', seq, '\\n\\\\')) FROM seq_1_to_{1 + n % 40}")
        cur.execute("CREATE TABLE nokey (a INT, b VARCHAR(10))")
        cur.execute("INSERT INTO nokey VALUES (1, 'x'), (1, 'x'), (NULL, NULL)")
    conn.close()
    job = make_job(job_id, source_server, target_server, (SchemaRule(table_schema=fresh_schema),))
    run_copy(job, redis_client)
    for name in [f"s{n}" for n in range(120)] + ["nokey"]:
        assert table_digest(target_server, fresh_schema, name) == \
            table_digest(source_server, fresh_schema, name), name


def test_rows_arrive_exactly_through_load_data_and_without_it(
        source_server: MariaDBServer, target_server: MariaDBServer, fresh_schema: str,
        redis_client: Any, job_id: str) -> None:
    """Tabs, newlines, backslashes, NUL, a GBK character whose second byte is a backslash,
    latin1 and binary bytes, NULL and the text \\N: by LOAD DATA, and by INSERT when the
    target refuses LOAD DATA LOCAL."""
    source_server.execute(f"CREATE DATABASE {fresh_schema}")
    conn = source_server.connect(database=fresh_schema)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, u TEXT, g VARCHAR(8) CHARACTER SET gbk,"
                    " l VARCHAR(8) CHARACTER SET latin1, b BLOB, bt BIT(9), d DOUBLE)")
        cur.execute("INSERT INTO t VALUES (1, 'a\\tb\\nc\\\\d\\0e', X'955C', X'E9FF', X'005C090A0D4E',"
                    " b'100000001', 0.1), (2, '\\\\N', '', '', X'', NULL, -1e-300),"
                    " (3, NULL, NULL, NULL, NULL, NULL, NULL)")
    conn.close()
    _copy_by_load_data_and_by_insert(source_server, target_server, fresh_schema, redis_client, job_id)


def test_wide_rows_arrive_exactly_escaped_by_the_reader(
        source_server: MariaDBServer, target_server: MariaDBServer, fresh_schema: str,
        redis_client: Any, job_id: str) -> None:
    """Rows wider than WIDE_ROW_BYTES are fetched as their columns' bytes and escaped by the
    reader: the same special bytes as above, in every kind of string column, arrive exactly,
    in chunks bounded by bytes, by LOAD DATA and by INSERT."""
    from replication.source.table_reader import CHUNK_BYTES, WIDE_ROW_BYTES

    source_server.execute(f"CREATE DATABASE {fresh_schema}")
    conn = source_server.connect(database=fresh_schema)
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id INT PRIMARY KEY, u TEXT, g VARCHAR(8) CHARACTER SET gbk,"
                    " l VARCHAR(8) CHARACTER SET latin1, b BLOB, bt BIT(9), d DOUBLE,"
                    " c CHAR(3), vb VARBINARY(300), bn BINARY(4), m MEDIUMTEXT, lb LONGBLOB,"
                    " e ENUM('x','y'), dt DATETIME(6))")
        cur.execute("INSERT INTO t VALUES (1, 'a\\tb\\nc\\\\d\\0e', X'955C', X'E9FF',"
                    " X'005C090A0D4E', b'100000001', 0.1, 'a\\tb', X'5C00090A', X'0A5C', '\\\\N',"
                    " X'5C4E', 'y', '2020-01-02 03:04:05.000006'),"
                    " (2, '\\\\N', '', '', X'', NULL, -1e-300, '', '', X'', '', X'', NULL, NULL),"
                    " (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)")
        # Wide: 900 rows of about 5 KB, several chunks.
        cur.execute("INSERT INTO t SELECT seq, REPEAT(CONCAT('\\\\', seq, '\\t\\n'), 400),"
                    " X'955C', X'E9', REPEAT(UNHEX(SHA2(seq, 256)), 60), b'1', seq / 3, 'c\\\\',"
                    " UNHEX(SHA2(seq, 256)), X'00000A09', REPEAT('\\n', 300), REPEAT(X'5C0A', 200),"
                    " 'x', NULL FROM seq_4_to_903")
        cur.execute("SELECT MIN(LENGTH(u) + LENGTH(b)), SUM(LENGTH(u) + LENGTH(b) + LENGTH(m)"
                    " + LENGTH(lb)) FROM t WHERE id > 3")
        narrowest, total = cur.fetchone()
    conn.close()
    assert narrowest > WIDE_ROW_BYTES and total > 2 * CHUNK_BYTES
    def bounded_by_bytes() -> None:
        resume = load_snapshot_resume(lambda: connect(conn_cfg(target_server)), job_id)
        assert resume.tables[(fresh_schema, "t")].seq >= 3  # not by chunk_size

    _copy_by_load_data_and_by_insert(source_server, target_server, fresh_schema, redis_client, job_id,
                                     after_load=bounded_by_bytes)


def _copy_by_load_data_and_by_insert(source_server: MariaDBServer, target_server: MariaDBServer,
                                     schema: str, redis_client: Any, job_id: str,
                                     after_load: Callable[[], None] = lambda: None) -> None:
    """Copy ``schema`` by LOAD DATA, then again into an emptied target that refuses LOCAL (so by
    INSERTs); table ``t`` equals the source's both times. ``after_load`` checks more after the
    first copy."""
    expected = table_digest(source_server, schema, "t")
    run_copy(make_job(job_id, source_server, target_server, (SchemaRule(table_schema=schema),)),
             redis_client)
    assert table_digest(target_server, schema, "t") == expected
    after_load()
    target_server.execute(f"DROP DATABASE {schema}")
    target_server.execute("SET GLOBAL local_infile = 0")
    try:
        run_copy(make_job(job_id + "2", source_server, target_server,
                          (SchemaRule(table_schema=schema),)), redis_client)
    finally:
        target_server.execute("SET GLOBAL local_infile = 1")
    assert table_digest(target_server, schema, "t") == expected
