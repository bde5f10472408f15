"""Kafka messages of a subscription: the JsonConverter envelope and every MySQL type's value."""

from __future__ import annotations

import base64
import calendar
import datetime
import json
from decimal import Decimal
from typing import Any

import pytest

from replication.sinks.kafka.envelope import (
    Source,
    TableEncoder,
    ddl_record,
    schema_change_topic,
    time_micros,
    topic_for,
    unscaled_bytes,
)
from replication.source.schema import ColumnDef, TableDef

# (name, data_type, column_type, unsigned, charset, values, nullable)
COLUMNS = [
    ColumnDef("id", "int", False, None, (), "int(11)", False),
    ColumnDef("dec", "decimal", False, None, (), "decimal(65,30)"),
    ColumnDef("dt6", "datetime", False, None, (), "datetime(6)"),
    ColumnDef("dt0", "datetime", False, None, (), "datetime"),
    ColumnDef("ts3", "timestamp", False, None, (), "timestamp(3)"),
    ColumnDef("ts0", "timestamp", False, None, (), "timestamp"),
    ColumnDef("d", "date", False, None, (), "date"),
    ColumnDef("t6", "time", False, None, (), "time(6)"),
    ColumnDef("y", "year", False, None, (), "year(4)"),
    ColumnDef("j", "json", False, "utf8mb4", (), "json"),
    ColumnDef("e", "enum", False, "utf8mb4", ("a", "b", "c"), "enum"),
    ColumnDef("s", "set", False, "utf8mb4", ("a", "b", "c"), "set"),
    ColumnDef("b1", "bit", False, None, (), "bit(1)"),
    ColumnDef("b10", "bit", False, None, (), "bit(10)"),
    ColumnDef("bl", "blob", False, "binary", (), "blob"),
    ColumnDef("bin", "binary", False, "binary", (), "binary(4)"),
    ColumnDef("vb", "varbinary", False, "binary", (), "varbinary(10)"),
    ColumnDef("emoji", "varchar", False, "utf8mb4", (), "varchar(20)"),
    ColumnDef("gbk", "varchar", False, "gbk", (), "varchar(20)"),
    ColumnDef("ch", "char", False, "utf8mb4", (), "char(5)"),
    ColumnDef("tu", "tinyint", True, None, (), "tinyint(3) unsigned"),
    ColumnDef("su", "smallint", True, None, (), "smallint(5) unsigned"),
    ColumnDef("mu", "mediumint", True, None, (), "mediumint(8) unsigned"),
    ColumnDef("iu", "int", True, None, (), "int(10) unsigned"),
    ColumnDef("bu", "bigint", True, None, (), "bigint(20) unsigned"),
    ColumnDef("bs", "bigint", False, None, (), "bigint(20)"),
    ColumnDef("f", "float", False, None, (), "float"),
    ColumnDef("db", "double", False, None, (), "double"),
]
TABLE = TableDef("shop", "items", tuple(COLUMNS))
ROW = [
    7,
    Decimal("-12345678901234567890123456789012345.123456789012345678901234567890"),
    datetime.datetime(2024, 1, 2, 3, 4, 5, 678901),
    datetime.datetime(1969, 12, 31, 23, 59, 59),
    datetime.datetime(2024, 6, 30, 22, 30, 0, 123000),  # naive UTC, as the decoder gives it
    datetime.datetime(2038, 1, 19, 3, 14, 7),
    datetime.date(2024, 2, 29),
    -datetime.timedelta(hours=838, minutes=59, seconds=58, microseconds=999999),
    2024,
    '{"k": [1, 2.5, null], "s": "\\u00e9"}',
    "b",
    "a,c",
    1,
    0b1000000001,
    b"\x00\xff\x10",
    b"ab",  # the binlog drops BINARY's trailing zero bytes
    b"\x00",
    "héllo 😀",
    "中文",
    "ab",
    255,
    65535,
    16777215,
    4294967295,
    18446744073709551615,
    -9223372036854775808,
    1.100000023841858,
    -2.25e300,
]
SOURCE = Source(name="sub", server_id=11, ts_sec=1719786600, gtid="0-11-42",
                file="mysql-bin.000003", pos=4711, db="shop", table="items")


def _unscaled(text: str) -> int:
    return int.from_bytes(base64.b64decode(text), "big", signed=True)


def _message(raw: bytes | None) -> Any:
    assert raw is not None
    return json.loads(raw)


def _fields(schema: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    struct = next(f for f in schema["fields"] if f["field"] == name)
    return {f["field"]: f for f in struct["fields"]}


@pytest.fixture(scope="module")
def encoder() -> TableEncoder:
    return TableEncoder("sub", TABLE, ["id"])


def test_insert_is_a_create_with_every_type_mapped(encoder: TableEncoder) -> None:
    [(key, value)] = encoder.insert(ROW, SOURCE, ts_ms=1719786601234, row=3)
    message = _message(value)
    payload = message["payload"]
    assert payload["op"] == "c" and payload["before"] is None
    assert payload["ts_ms"] == 1719786601234
    after = payload["after"]
    assert after["id"] == 7
    # decimal(65,30): exact, scale 30, big-endian two's complement
    assert _unscaled(after["dec"]) == -12345678901234567890123456789012345123456789012345678901234567890
    # datetime(6): microseconds since the epoch (the wall clock read as UTC)
    assert after["dt6"] == calendar.timegm((2024, 1, 2, 3, 4, 5)) * 1_000_000 + 678901
    assert after["dt0"] == -1000  # datetime(0): milliseconds
    assert after["ts3"] == "2024-06-30T22:30:00.123Z"
    assert after["ts0"] == "2038-01-19T03:14:07Z"
    assert after["d"] == (datetime.date(2024, 2, 29) - datetime.date(1970, 1, 1)).days
    assert after["t6"] == -((838 * 3600 + 59 * 60 + 58) * 1_000_000 + 999999)
    assert after["y"] == 2024  # the year itself, not year - 1900
    assert json.loads(after["j"]) == {"k": [1, 2.5, None], "s": "é"}
    assert (after["e"], after["s"]) == ("b", "a,c")
    assert after["b1"] is True
    assert base64.b64decode(after["b10"]) == b"\x01\x02"  # little-endian, 2 bytes for 10 bits
    assert base64.b64decode(after["bl"]) == b"\x00\xff\x10"
    assert base64.b64decode(after["bin"]) == b"ab\x00\x00"  # BINARY(4) padded back
    assert base64.b64decode(after["vb"]) == b"\x00"
    assert (after["emoji"], after["gbk"], after["ch"]) == ("héllo 😀", "中文", "ab")  # CHAR not base64
    assert [after[c] for c in ("tu", "su", "mu", "iu")] == [255, 65535, 16777215, 4294967295]
    assert _unscaled(after["bu"]) == 18446744073709551615  # no int64 overflow
    assert after["bs"] == -9223372036854775808
    assert after["f"] == pytest.approx(1.1, rel=1e-7) and after["db"] == -2.25e300
    assert _message(key) == {"schema": {"type": "struct", "optional": False,
                                        "name": "sub.shop.items.Key",
                                        "fields": [{"type": "int32", "optional": False,
                                                    "field": "id"}]},
                             "payload": {"id": 7}}


def test_schemas_name_debezium_types_and_parameters(encoder: TableEncoder) -> None:
    [(_, value)] = encoder.insert(ROW, SOURCE, ts_ms=0)
    schema = _message(value)["schema"]
    assert schema["name"] == "sub.shop.items.Envelope"
    assert [f["field"] for f in schema["fields"]] == ["before", "after", "source", "op", "ts_ms"]
    fields = _fields(schema, "after")
    assert next(f for f in schema["fields"] if f["field"] == "after")["name"] == "sub.shop.items.Value"

    def kind(name: str) -> tuple[Any, ...]:
        f = fields[name]
        return f["type"], f.get("name"), f.get("parameters")

    assert kind("dec") == ("bytes", "org.apache.kafka.connect.data.Decimal",
                           {"scale": "30", "connect.decimal.precision": "65"})
    assert kind("dt6") == ("int64", "io.debezium.time.MicroTimestamp", None)
    assert kind("dt0") == ("int64", "io.debezium.time.Timestamp", None)
    assert kind("ts3") == ("string", "io.debezium.time.ZonedTimestamp", None)
    assert kind("d") == ("int32", "io.debezium.time.Date", None)
    assert kind("t6") == ("int64", "io.debezium.time.MicroTime", None)
    assert kind("y") == ("int32", "io.debezium.time.Year", None)
    assert kind("j") == ("string", "io.debezium.data.Json", None)
    assert kind("e") == ("string", "io.debezium.data.Enum", {"allowed": "a,b,c"})
    assert kind("s") == ("string", "io.debezium.data.EnumSet", {"allowed": "a,b,c"})
    assert kind("b1") == ("boolean", None, None)
    assert kind("b10") == ("bytes", "io.debezium.data.Bits", {"length": "10"})
    assert [kind(c)[0] for c in ("bl", "bin", "vb", "emoji", "gbk", "ch")] == [
        "bytes", "bytes", "bytes", "string", "string", "string"]
    assert [kind(c)[0] for c in ("tu", "su", "mu", "iu", "bs", "f", "db")] == [
        "int16", "int32", "int32", "int64", "int64", "float32", "float64"]
    assert kind("bu") == ("bytes", "org.apache.kafka.connect.data.Decimal",
                          {"scale": "0", "connect.decimal.precision": "20"})
    assert fields["id"]["optional"] is False and fields["dec"]["optional"] is True
    source = next(f for f in schema["fields"] if f["field"] == "source")
    assert source["name"] == "io.debezium.connector.mysql.Source"
    assert [f["field"] for f in source["fields"]] == [
        "version", "name", "server_id", "ts_sec", "gtid", "file", "pos", "row", "snapshot",
        "thread", "db", "table", "query"]


def test_source_block_carries_the_events_position_and_time(encoder: TableEncoder) -> None:
    [(_, value)] = encoder.insert(ROW, SOURCE, ts_ms=5, row=2)
    assert _message(value)["payload"]["source"] == {
        "version": "0.0.1", "name": "sub", "server_id": 11, "ts_sec": 1719786600,
        "gtid": "0-11-42", "file": "mysql-bin.000003", "pos": 4711, "row": 2,
        "snapshot": False, "thread": None, "db": "shop", "table": "items", "query": None}


def test_snapshot_row_is_a_create_marked_snapshot(encoder: TableEncoder) -> None:
    snap = Source(name="sub", server_id=11, ts_sec=1719786000, gtid=None, file="", pos=0,
                  snapshot=True, db="shop", table="items")
    [(_, value)] = encoder.insert(ROW, snap, ts_ms=1)
    payload = _message(value)["payload"]
    assert payload["op"] == "c" and payload["before"] is None
    assert payload["source"]["snapshot"] is True and payload["source"]["gtid"] is None
    assert (payload["source"]["file"], payload["source"]["pos"]) == ("", 0)


def test_nulls_are_null_in_every_type(encoder: TableEncoder) -> None:
    row = [7] + [None] * (len(COLUMNS) - 1)
    [(_, value)] = encoder.insert(row, SOURCE, ts_ms=0)
    after = _message(value)["payload"]["after"]
    assert after == {c.name: (7 if c.name == "id" else None) for c in COLUMNS}


def test_update_keyed_by_before_image_and_delete_followed_by_a_tombstone(
        encoder: TableEncoder) -> None:
    after = list(ROW)
    after[17] = "changed"
    [(key, value)] = encoder.update(ROW, after, SOURCE, ts_ms=0)
    payload = _message(value)["payload"]
    assert payload["op"] == "u"
    assert payload["before"]["emoji"] == "héllo 😀" and payload["after"]["emoji"] == "changed"
    assert _message(key)["payload"] == {"id": 7}
    messages = encoder.delete(ROW, SOURCE, ts_ms=0)
    assert len(messages) == 2
    (key1, value1), (key2, tombstone) = messages
    assert _message(value1)["payload"]["op"] == "d"
    assert _message(value1)["payload"]["after"] is None
    assert key2 == key1 and tombstone is None  # a real null value: compaction removes the key


def test_update_of_the_key_is_a_delete_tombstone_and_create(encoder: TableEncoder) -> None:
    after = [8, *ROW[1:]]
    messages = encoder.update(ROW, after, SOURCE, ts_ms=0)
    assert [(_message(k)["payload"], v and _message(v)["payload"]["op"]) for k, v in messages] == [
        ({"id": 7}, "d"), ({"id": 7}, None), ({"id": 8}, "c")]


def test_keyless_table_gets_dtles_empty_key_and_no_tombstone() -> None:
    table = TableDef("shop", "log", (ColumnDef("msg", "text", charset="utf8mb4",
                                               column_type="text"),))
    encoder = TableEncoder("sub", table, [])
    [(key, _)] = encoder.insert(["x"], SOURCE, ts_ms=0)
    assert _message(key) == {"schema": {"type": "struct", "optional": False,
                                        "name": "sub.shop.log.Key", "fields": []},
                             "payload": {}}
    assert [v is None for _, v in encoder.delete(["x"], SOURCE, ts_ms=0)] == [False]
    assert len(encoder.update(["x"], ["y"], SOURCE, ts_ms=0)) == 1


def test_composite_key_in_key_column_order() -> None:
    table = TableDef("s", "t", (ColumnDef("a", "varchar", charset="utf8mb4", column_type="varchar(3)"),
                                ColumnDef("b", "datetime", column_type="datetime(3)"),
                                ColumnDef("v", "int", column_type="int")))
    encoder = TableEncoder("p", table, ["b", "A"])
    key = _message(encoder.key(["x", datetime.datetime(1970, 1, 1, 0, 0, 1, 500000), 1]))
    assert key["payload"] == {"b": 1500, "a": "x"}
    assert [f["field"] for f in key["schema"]["fields"]] == ["b", "a"]
    with pytest.raises(ValueError, match="key columns"):
        TableEncoder("p", table, ["nope"])


@pytest.mark.parametrize(("value", "scale", "expected"), [
    (Decimal("0"), 0, "AA=="), (Decimal("1.28"), 2, "AIA="), (Decimal("-1.28"), 2, "gA=="),
    (Decimal("-1.29"), 2, "/38="), (Decimal("-1.00"), 2, "nA=="), (Decimal("127"), 0, "fw=="),
    (Decimal("-200"), 0, "/zg="),  # dtle loses the sign of this one
])
def test_decimal_bytes_are_shortest_twos_complement(value: Decimal, scale: int,
                                                    expected: str) -> None:
    table = TableDef("s", "t", (ColumnDef("x", "decimal", column_type=f"decimal(10,{scale})"),))
    assert TableEncoder("p", table, []).row([value]) == {"x": expected}
    assert unscaled_bytes(int(value.scaleb(scale))) == expected


def test_decimal_of_fewer_digits_is_rescaled_and_text_accepted() -> None:
    table = TableDef("s", "t", (ColumnDef("x", "decimal", column_type="decimal(10,3)"),))
    row = TableEncoder("p", table, []).row
    assert _unscaled(row([Decimal("1.5")])["x"]) == 1500
    assert _unscaled(row(["-0.001"])["x"]) == -1


def test_time_fractions_are_padded_and_negative_times_exact() -> None:
    assert time_micros("-01:02:03.4") == -(3723 * 1_000_000 + 400000)
    assert time_micros("838:59:59.000001") == (838 * 3600 + 3599) * 1_000_000 + 1
    assert time_micros("00:00:00") == 0
    table = TableDef("s", "t", (ColumnDef("x", "time", column_type="time(6)"),))
    row = TableEncoder("p", table, []).row
    assert row([-datetime.timedelta(microseconds=1)]) == {"x": -1}
    assert row(["-00:00:01.5"]) == {"x": -1_500_000}


def test_zero_dates_are_null_or_the_epoch_when_not_null() -> None:
    nullable = TableDef("s", "t", (ColumnDef("d", "date", column_type="date"),
                                   ColumnDef("dt", "datetime", column_type="datetime"),
                                   ColumnDef("ts", "timestamp", column_type="timestamp")))
    zero = ["0000-00-00", "2024-00-15 10:00:00", "0000-00-00 00:00:00"]
    assert TableEncoder("p", nullable, []).row(zero) == {"d": None, "dt": None, "ts": None}
    required = TableDef("s", "t", tuple(
        ColumnDef(c.name, c.data_type, column_type=c.column_type, nullable=False)
        for c in nullable.columns))
    assert TableEncoder("p", required, []).row(zero) == {
        "d": 0, "dt": 0, "ts": "1970-01-01T00:00:00Z"}


def test_datetime_in_a_configured_zone_and_timestamp_fractions() -> None:
    table = TableDef("s", "t", (ColumnDef("dt", "datetime", column_type="datetime(3)"),
                                ColumnDef("ts", "timestamp", column_type="timestamp(6)")))
    row = [datetime.datetime(2024, 7, 1, 6, 30, 0, 250000), datetime.datetime(2024, 1, 1, 0, 0, 0, 5)]
    shanghai = TableEncoder("p", table, [], datetime_zone="Asia/Shanghai").row(row)
    assert shanghai == {"dt": calendar.timegm((2024, 6, 30, 22, 30, 0)) * 1000 + 250,
                        "ts": "2024-01-01T00:00:00.000005Z"}
    assert TableEncoder("p", table, [], datetime_zone="+08:00").row(row) == shanghai
    assert TableEncoder("p", table, []).row(row)["dt"] == calendar.timegm(
        (2024, 7, 1, 6, 30, 0)) * 1000 + 250


def test_library_fallback_representations_are_accepted() -> None:
    table = TableDef("s", "t", (ColumnDef("s", "set", values=("x", "y", "z"), column_type="set"),
                                ColumnDef("b", "bit", column_type="bit(3)"),
                                ColumnDef("e", "varbinary", charset="binary",
                                          column_type="varbinary(3)"),
                                ColumnDef("bin", "binary", charset="binary",
                                          column_type="binary(2)")))
    assert TableEncoder("p", table, []).row([{"z", "x"}, "101", "", ""]) == {
        "s": "x,z", "b": base64.b64encode(b"\x05").decode(), "e": "", "bin": "AAA="}


def test_columns_without_a_known_type_text_still_encode() -> None:
    table = TableDef("s", "t", (ColumnDef("x", "decimal"), ColumnDef("d", "datetime")))
    encoder = TableEncoder("p", table, [])
    row = encoder.row([Decimal("-1.250"), datetime.datetime(1970, 1, 1, 0, 0, 0, 7)])
    assert row == {"x": {"scale": 3, "value": base64.b64encode(
        (-1250).to_bytes(2, "big", signed=True)).decode()}, "d": 7}


def test_topics_and_ddl_records() -> None:
    assert topic_for("sub", "shop", "items") == "sub.shop.items"
    assert topic_for("sub", "shop", "items", with_schema_table=False) == "sub"
    assert topic_for("sub", "my db", "t$1") == "sub.my_db.t_1"
    assert schema_change_topic("sub") == "schema-changes.sub"
    key, value = ddl_record("sub", "shop", "ALTER TABLE items ADD c INT", ts_sec=1719786600,
                            file="mysql-bin.000003", pos=4711, gtids="0-11-42")
    assert key == b"null"
    assert json.loads(value) == {
        "source": {"server": "sub"},
        "position": {"ts_sec": 1719786600, "file": "mysql-bin.000003", "pos": 4711,
                     "gtids": "0-11-42"},
        "databaseName": "shop", "ddl": "ALTER TABLE items ADD c INT", "tableChanges": []}
    _, snap = ddl_record("sub", "shop", "CREATE TABLE items (id INT)", ts_sec=1, snapshot=True)
    assert json.loads(snap)["position"]["snapshot"] is True


def test_column_names_with_quotes_and_backslashes_stay_names() -> None:
    odd = ['a"b', "c'd", "e\\f", "g}h", "名前", "x: 1}; import os"]
    table = TableDef("s", "t", tuple(ColumnDef(n, "varchar", charset="utf8mb4",
                                               column_type="varchar(9)") for n in odd))
    encoder = TableEncoder("p", table, [odd[0], odd[5]])
    values = [f"v{i}" for i in range(len(odd))]
    assert encoder.row(values) == dict(zip(odd, values, strict=True))
    assert _message(encoder.key(values))["payload"] == {odd[0]: "v0", odd[5]: "v5"}


@pytest.mark.parametrize(("fsp", "text"), [
    (0, "2024-01-02T03:04:05Z"), (1, "2024-01-02T03:04:05.1Z"), (2, "2024-01-02T03:04:05.12Z"),
    (3, "2024-01-02T03:04:05.123Z"), (4, "2024-01-02T03:04:05.1234Z"),
    (6, "2024-01-02T03:04:05.123456Z")])
def test_timestamp_text_has_the_columns_fractional_digits(fsp: int, text: str) -> None:
    table = TableDef("s", "t", (ColumnDef("ts", "timestamp", column_type=f"timestamp({fsp})"),))
    value = datetime.datetime(2024, 1, 2, 3, 4, 5, 123456 if fsp else 0)
    assert TableEncoder("p", table, []).row([value]) == {"ts": text}
    assert TableEncoder("p", table, []).row([datetime.datetime(1, 1, 1)])["ts"].startswith(
        "0001-01-01T00:00:00")
