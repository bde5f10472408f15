"""What the binlog decoder reads from a real MariaDB, encoded as Kafka messages: every type's
value as a consumer sees it, keys, update and delete images, and the tombstone."""

from __future__ import annotations

import base64
import calendar
import json
from typing import Any

from replication.sinks.kafka.envelope import Source, TableEncoder
from replication.source.binlog import current_position
from replication.source.schema import read_table_def
from replication.wire.changes import DELETE, INSERT, UPDATE, RowEvent, Transaction
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.binlog import transactions_since

TABLE = """CREATE TABLE `{s}`.t (
  id INT PRIMARY KEY,
  dec1 DECIMAL(65,30) NULL, dt6 DATETIME(6) NULL, ts3 TIMESTAMP(3) NULL DEFAULT NULL,
  d DATE NULL, dz DATE NOT NULL DEFAULT '2000-01-01', tm TIME(6) NULL, y YEAR NULL, js JSON NULL,
  e ENUM('a','b','c') NULL, st SET('x','y','z') NULL, b1 BIT(1) NULL, b10 BIT(10) NULL,
  bl BLOB NULL, bin BINARY(4) NULL, u8 VARCHAR(20) CHARACTER SET utf8mb4 NULL,
  g VARCHAR(20) CHARACTER SET gbk NULL, ch CHAR(5) NULL, tu TINYINT UNSIGNED NULL,
  su SMALLINT UNSIGNED NULL, mu MEDIUMINT UNSIGNED NULL, iu INT UNSIGNED NULL,
  bu BIGINT UNSIGNED NULL, f FLOAT NULL, db DOUBLE NULL
) DEFAULT CHARSET=utf8mb4"""

INSERT_ROW = (
    "INSERT INTO t VALUES (1, -12345678901234567890123456789012345.123456789012345678901234567890,"
    " '2024-01-02 03:04:05.678901', '2024-07-01 06:30:00.123', '2024-02-29', '0000-00-00',"
    " '-01:02:03.4', 2024, '{\"k\": [1, 2.5, null]}', 'b', 'x,z', b'1', b'1000000001',"
    " 0x00ff10, 'ab', 'héllo 😀', '中文', 'ab', 255, 65535, 16777215, 4294967295,"
    " 18446744073709551615, 1.5, -2.25e300)")


def _messages(encoder: TableEncoder, tx: Transaction, event: RowEvent
              ) -> list[tuple[Any, Any]]:
    source = Source("sub", 104, tx.timestamp, tx.gtid, tx.file, tx.pos, db=event.schema,
                    table=event.table)
    out: list[tuple[bytes, bytes | None]] = []
    for row_index, row in enumerate(event.rows):
        if event.kind == INSERT:
            out += encoder.insert(row, source, ts_ms=1, row=row_index)
        elif event.kind == UPDATE:
            out += encoder.update(row[0], row[1], source, ts_ms=1, row=row_index)
        else:
            out += encoder.delete(row, source, ts_ms=1, row=row_index)
    return [(json.loads(k), json.loads(v) if v is not None else None) for k, v in out]


def _unscaled(text: str) -> int:
    return int.from_bytes(base64.b64decode(text), "big", signed=True)


def test_decoded_binlog_rows_encode_as_a_consumer_expects(full_metadata_server: MariaDBServer,
                                                          fresh_schema: str) -> None:
    server, s = full_metadata_server, fresh_schema
    server.execute(f"CREATE DATABASE `{s}`")
    try:
        server.execute(TABLE.format(s=s))
        definition = read_table_def(server.connect(), s, "t")
        assert definition is not None
        encoder = TableEncoder("sub", definition, ["id"])
        start = current_position(server.connect(), True)
        conn = server.connect(database=s)
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+08:00'")  # TIMESTAMP is stored in UTC
            cur.execute(INSERT_ROW)
            cur.execute("INSERT INTO t (id, dz) VALUES (2, '2024-03-01')")
            cur.execute("UPDATE t SET u8 = 'neu', y = NULL WHERE id = 1")
            cur.execute("DELETE FROM t WHERE id = 2")
        conn.commit()
        transactions = transactions_since(server, start, 4343)
    finally:
        server.execute(f"DROP DATABASE IF EXISTS `{s}`")

    messages = []
    for tx in transactions:
        for change in tx.changes:
            if isinstance(change, RowEvent) and change.table == "t":
                messages.append((tx, change.kind, _messages(encoder, tx, change)))
    assert [kind for _, kind, _ in messages] == [INSERT, INSERT, UPDATE, DELETE]

    tx, _, [(key, value)] = messages[0]
    assert key["payload"] == {"id": 1}
    payload = value["payload"]
    assert (payload["op"], payload["before"]) == ("c", None)
    assert payload["source"]["ts_sec"] == tx.timestamp and payload["source"]["gtid"] == tx.gtid
    assert (payload["source"]["file"], payload["source"]["pos"]) == (tx.file, tx.pos)
    assert payload["source"]["snapshot"] is False
    after = payload["after"]
    assert _unscaled(after["dec1"]) == \
        -12345678901234567890123456789012345_123456789012345678901234567890
    assert after["dt6"] == calendar.timegm((2024, 1, 2, 3, 4, 5)) * 1_000_000 + 678901
    assert after["ts3"] == "2024-06-30T22:30:00.123Z"  # written at +08:00
    assert after["d"] == calendar.timegm((2024, 2, 29, 0, 0, 0)) // 86400
    assert after["dz"] == 0  # the zero date in a NOT NULL column: the epoch
    assert after["tm"] == -(3723 * 1_000_000 + 400000)
    assert after["y"] == 2024
    assert json.loads(after["js"]) == {"k": [1, 2.5, None]}
    assert (after["e"], after["st"], after["b1"]) == ("b", "x,z", True)
    assert base64.b64decode(after["b10"]) == (0b1000000001).to_bytes(2, "little")
    assert base64.b64decode(after["bl"]) == b"\x00\xff\x10"
    assert base64.b64decode(after["bin"]) == b"ab\x00\x00"
    assert (after["u8"], after["g"], after["ch"]) == ("héllo 😀", "中文", "ab")
    assert [after[c] for c in ("tu", "su", "mu", "iu")] == [255, 65535, 16777215, 4294967295]
    assert _unscaled(after["bu"]) == 18446744073709551615
    assert (after["f"], after["db"]) == (1.5, -2.25e300)
    fields = {f["field"]: f for f in value["schema"]["fields"][1]["fields"]}
    assert fields["js"]["name"] == "io.debezium.data.Json"  # MariaDB's JSON is LONGTEXT
    assert fields["ts3"]["name"] == "io.debezium.time.ZonedTimestamp"
    assert fields["dz"]["optional"] is False

    _, _, [(_, second)] = messages[1]
    nulls = second["payload"]["after"]
    assert nulls["dz"] == calendar.timegm((2024, 3, 1, 0, 0, 0)) // 86400
    assert all(v is None for c, v in nulls.items() if c not in ("id", "dz"))

    _, _, [(key, update)] = messages[2]
    assert key["payload"] == {"id": 1} and update["payload"]["op"] == "u"
    assert (update["payload"]["before"]["u8"], update["payload"]["after"]["u8"]) == (
        "héllo 😀", "neu")
    assert (update["payload"]["before"]["y"], update["payload"]["after"]["y"]) == (2024, None)

    _, _, deleted = messages[3]
    assert [(k["payload"], v and v["payload"]["op"]) for k, v in deleted] == [
        ({"id": 2}, "d"), ({"id": 2}, None)]
