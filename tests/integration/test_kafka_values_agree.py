"""A snapshot row and a binlog row of the same stored values make the same Kafka payload: the
full copy's typed values (``typed_values``) and the binlog decoder's agree for every type,
including the edge values (zero dates, YEAR 0000, negative TIME, TIMESTAMP written in another
time zone, DECIMAL(65,30) extremes, BINARY padding, charsets, unsigned maximums)."""

from __future__ import annotations

from typing import Any

from replication.sinks.kafka.envelope import TableEncoder
from replication.source.binlog import current_position
from replication.source.consistent import prepare_read_session
from replication.source.schema import read_table_def
from replication.source.typed_values import RowConverter, select_list
from replication.source.values import ColumnInfo
from replication.wire.changes import INSERT, RowEvent
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.binlog import transactions_since

TABLE = """CREATE TABLE `{s}`.t (
  id INT PRIMARY KEY,
  d DATE NULL, dz DATE NOT NULL DEFAULT '2000-01-01', dt6 DATETIME(6) NULL, dt0 DATETIME NULL,
  ts3 TIMESTAMP(3) NULL DEFAULT NULL, tm TIME(6) NULL, tm1 TIME(1) NULL, y YEAR NULL,
  dec1 DECIMAL(65,30) NULL, dec2 DECIMAL(10,0) UNSIGNED NULL, f FLOAT NULL, db DOUBLE NULL,
  b1 BIT(1) NULL, b10 BIT(10) NULL, e ENUM('a','b','c') NULL, st SET('x','y','z') NULL,
  l1 VARCHAR(20) CHARACTER SET latin1 NULL, g VARCHAR(20) CHARACTER SET gbk NULL,
  u8 VARCHAR(20) CHARACTER SET utf8mb4 NULL, ch CHAR(5) NULL, bin BINARY(4) NULL,
  vb VARBINARY(8) NULL, bl BLOB NULL, tx TEXT NULL, js JSON NULL, tu TINYINT UNSIGNED NULL,
  su SMALLINT UNSIGNED NULL, mu MEDIUMINT UNSIGNED NULL, iu INT UNSIGNED NULL,
  bu BIGINT UNSIGNED NULL, bs BIGINT NULL
) DEFAULT CHARSET=utf8mb4"""

ROWS = [
    "(1, '0000-00-00', '0000-00-00', '0000-00-00 00:00:00', '2024-00-15 10:00:00', NULL,"
    " '-838:59:59.000000', '-00:00:01.5', 0,"
    " -99999999999999999999999999999999999.999999999999999999999999999999, 9999999999,"
    " 1.1, -2.2250738585072014e-308, b'1', b'1010101010', 'b', 'x,z', 'caf\xe9', '中文',"
    " '😀 ok', 'ab', 'ab', 0x00ff, 0x00010203, 'long text', '{\"k\": [1, 2.5, null]}',"
    " 255, 65535, 16777215, 4294967295, 18446744073709551615, -9223372036854775808)",
    "(2, '2024-02-00', '1000-01-01', '9999-12-31 23:59:59.999999', '1970-01-01 00:00:01',"
    " '2038-01-19 11:14:07.999', '838:59:59.999999', '25:00:00.1', 2155,"
    " 0.000000000000000000000000000001, 0, -0.0, 1e308, b'0', b'0', '', '', '', '', '', '',"
    " '', '', '', '', '[]', 0, 0, 0, 0, 0, 9223372036854775807)",
    "(3, NULL, '2024-02-29', '2024-02-29 12:34:56.700000', NULL, '1970-01-01 08:00:01.5',"
    " '-00:00:00.000001', '00:00:00', 1901, 12.3, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
]


def _binlog_images(server: MariaDBServer, start: Any) -> list[list[Any]]:
    return [row for tx in transactions_since(server, start, 4443) for c in tx.changes
            if isinstance(c, RowEvent) and c.kind == INSERT for row in c.rows]


def _snapshot_images(server: MariaDBServer, schema: str) -> list[list[Any]]:
    conn = server.connect()
    prepare_read_session(conn)
    with conn.cursor() as cur:
        cur.execute("SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_SET_NAME FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 't' ORDER BY ORDINAL_POSITION", (schema,))
        columns = [ColumnInfo(str(n), str(d).lower(), str(c) if c else None) for n, d, c in cur.fetchall()]
        cur.execute(f"SELECT {select_list(columns)} FROM `{schema}`.t ORDER BY id")
        rows = list(cur.fetchall())
    conn.close()
    return RowConverter(columns)(rows)


def test_snapshot_and_binlog_rows_make_the_same_payload(full_metadata_server: MariaDBServer,
                                                        fresh_schema: str) -> None:
    server, s = full_metadata_server, fresh_schema
    server.execute(f"CREATE DATABASE `{s}`")
    try:
        server.execute(TABLE.format(s=s))
        definition = read_table_def(server.connect(), s, "t")
        assert definition is not None
        start = current_position(server.connect(), True)
        conn = server.connect(database=s)
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+08:00', sql_mode = ''")  # zero dates allowed
            for row in ROWS:
                cur.execute(f"INSERT INTO t VALUES {row}")
        conn.commit()
        from_binlog = _binlog_images(server, start)
        from_snapshot = _snapshot_images(server, s)
    finally:
        server.execute(f"DROP DATABASE IF EXISTS `{s}`")

    encoder = TableEncoder("sub", definition, ["id"])
    assert len(from_binlog) == len(from_snapshot) == len(ROWS)
    for binlog_row, snapshot_row in zip(from_binlog, from_snapshot, strict=True):
        assert encoder.row(snapshot_row) == encoder.row(binlog_row)
        assert encoder.key(snapshot_row) == encoder.key(binlog_row)
    payload = encoder.row(from_binlog[0])
    assert payload is not None
    assert (payload["d"], payload["dz"], payload["dt6"], payload["y"]) == (None, 0, None, 0)
    assert payload["tm"] == -((838 * 3600 + 59 * 60 + 59) * 1_000_000)
    assert payload["tm1"] == -1_500_000
