"""The reader's fast row decoder gives exactly what python-mysql-replication decodes."""

from __future__ import annotations

from typing import Any

import pytest

from replication import binlog
from replication.binlog import BinlogReader, current_position
from replication.changes import RowEvent
from replication.config import MySQLConnectionConfig
from replication.stop import ManualStop
from scripts.mariadb_sandbox import MariaDBServer

FAST_TABLE = ("CREATE TABLE `{s}`.fast (id BIGINT UNSIGNED PRIMARY KEY, t TINYINT, tu TINYINT UNSIGNED, "
              "sm SMALLINT, mi MEDIUMINT, mu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, b BIGINT, "
              "f FLOAT, d DOUBLE, v VARCHAR(10), lv VARCHAR(300), l1 VARCHAR(20) CHARACTER SET latin1)")
SLOW_TABLE = "CREATE TABLE `{s}`.slow (id INT PRIMARY KEY, amount DECIMAL(10,2), at DATETIME(3))"
ROWS = [
    (18446744073709551615, -128, 255, -32768, -8388608, 16777215, -2147483648, 4294967295,
     -9223372036854775808, 1.5, -2.25e300, "héllo 😀", "x" * 300, "café"),
    (1, None, None, None, None, None, None, None, None, None, None, None, None, None),
    (2, 127, 0, 32767, 8388607, 0, 2147483647, 0, 9223372036854775807, -0.0, 0.1, "", "", ""),
]


def _transactions(server: MariaDBServer, start: Any) -> list[list[RowEvent]]:
    cfg = MySQLConnectionConfig("127.0.0.1", server.port, "root", "")
    reader = BinlogReader(cfg, 4243, start, True, ManualStop(), heartbeat=0.2)
    found: list[list[RowEvent]] = []
    try:
        for tx in reader.transactions():
            if tx is None:
                break
            found.append([c for c in tx.changes if isinstance(c, RowEvent)])
    finally:
        reader.close()
    return found


def test_fast_decoder_matches_the_library(source_server: MariaDBServer, fresh_schema: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    s = fresh_schema
    source_server.execute(f"CREATE DATABASE `{s}`")
    source_server.execute(FAST_TABLE.format(s=s))
    source_server.execute(SLOW_TABLE.format(s=s))
    start = current_position(source_server.connect(), True)
    conn = source_server.connect(database=s)
    with conn.cursor() as cur:
        marks = ",".join(["%s"] * len(ROWS[0]))
        cur.executemany(f"INSERT INTO fast VALUES ({marks})", ROWS)
        cur.execute("UPDATE fast SET v = 'ü', i = i - 1 WHERE id = 2")
        cur.execute("UPDATE fast SET v = NULL, lv = REPEAT('y', 299) WHERE id = 1")
        cur.execute("INSERT INTO slow VALUES (1, 12.34, '2024-01-02 03:04:05.700')")
        cur.execute("DELETE FROM fast WHERE id <= 2")
        cur.execute("ALTER TABLE fast ADD COLUMN extra INT DEFAULT 7, ALGORITHM=INSTANT")
        cur.execute("INSERT INTO fast (id) VALUES (3)")
        cur.execute("ALTER TABLE fast DROP COLUMN t")
        cur.execute("INSERT INTO fast (id) VALUES (4)")
    conn.close()
    fast = _transactions(source_server, start)
    monkeypatch.setattr(binlog, "plan_for", lambda columns: None)
    library = _transactions(source_server, start)
    assert fast == library
    inserted = fast[0][0].rows
    assert [tuple(r) for r in inserted] == [
        (*ROWS[0][:9], 1.5, -2.25e300, *ROWS[0][11:]), ROWS[1], ROWS[2]]
    assert len(fast) == 9 and fast[1][0].kind == "update" and fast[1][0].rows[0][1][11] == "ü"
    # Rows written after each ALTER are read with the table definition they were written with.
    assert (fast[6][0].columns[-1], fast[6][0].rows[0][-1]) == ("extra", 7)
    assert "t" not in fast[8][0].columns and len(fast[8][0].rows[0]) == 14
