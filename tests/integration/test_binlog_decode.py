"""The reader's fast row decoder gives exactly what python-mysql-replication decodes."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from replication.source import binlog
from replication.source.binlog import current_position
from replication.wire.changes import RowEvent
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.binlog import transactions_since

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
    return [[c for c in tx.changes if isinstance(c, RowEvent)]
            for tx in transactions_since(server, start, 4243)]


def test_fast_decoder_matches_the_library(full_metadata_server: MariaDBServer, fresh_schema: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    s = fresh_schema
    full_metadata_server.execute(f"CREATE DATABASE `{s}`")
    full_metadata_server.execute(FAST_TABLE.format(s=s))
    full_metadata_server.execute(SLOW_TABLE.format(s=s))
    start = current_position(full_metadata_server.connect(), True)
    conn = full_metadata_server.connect(database=s)
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
    fast = _transactions(full_metadata_server, start)
    monkeypatch.setattr(binlog, "plan_for", lambda columns: None)
    library = _transactions(full_metadata_server, start)
    assert fast == library
    inserted = fast[0][0].rows
    assert [tuple(r) for r in inserted] == [
        (*ROWS[0][:9], 1.5, -2.25e300, *ROWS[0][11:]), ROWS[1], ROWS[2]]
    assert len(fast) == 9 and fast[1][0].kind == "update" and fast[1][0].rows[0][1][11] == "ü"
    # Rows written after each ALTER are read with the table definition they were written with.
    assert (fast[6][0].columns[-1], fast[6][0].rows[0][-1]) == ("extra", 7)
    assert "t" not in fast[8][0].columns and len(fast[8][0].rows[0]) == 14


def _exact(value: Any) -> Any:
    """A value with its type, so ``Decimal('1.0')`` and ``Decimal('1.00')``, or ``1`` and
    ``True``, are told apart when the two paths' rows are compared."""
    if isinstance(value, list):
        return [_exact(v) for v in value]
    if isinstance(value, set):
        return ("set", sorted(value))
    return (type(value).__name__, repr(value))


def _both_paths(server: MariaDBServer, start: Any,
                monkeypatch: pytest.MonkeyPatch) -> tuple[list[list[RowEvent]], list[Any]]:
    """Rows through the fast decoder (which must plan every table) and through the library,
    after asserting both give the same values of the same types."""
    plans: list[Any] = []
    real_plan_for = binlog.plan_for
    monkeypatch.setattr(binlog, "plan_for", lambda columns: plans.append(real_plan_for(columns))
                        or plans[-1])
    fast = _transactions(server, start)
    monkeypatch.setattr(binlog, "plan_for", lambda columns: None)
    library = _transactions(server, start)
    assert len(fast) == len(library)
    for fast_tx, library_tx in zip(fast, library, strict=True):
        for fast_event, library_event in zip(fast_tx, library_tx, strict=True):
            assert fast_event.columns == library_event.columns
            names = fast_event.columns * (len(_flat(fast_event.rows)) // len(fast_event.columns))
            got = [_library_view(name, f, lib) for name, f, lib in
                   zip(names, _flat(fast_event.rows), _flat(library_event.rows), strict=True)]
            assert _exact(got) == _exact(_flat(library_event.rows)), fast_event.table
    return fast, plans


def _flat(rows: list[Any]) -> list[Any]:
    """Every value of every image, in order."""
    return [v for row in rows for image in (row if isinstance(row[0], list) else [row])
            for v in image]


SET_COLUMNS = {"s", "s2"}


def _library_view(column: str, fast: Any, library: Any) -> Any:
    """The fast decoder's value as the library gives it where the library loses the value
    (those cases are the only ones allowed to differ, and the test asserts the right values)."""
    lost = (
        (library is None and isinstance(fast, str) and fast[:1].isdigit() and "-" in fast)  # zero date
        or (library is None and fast == "" and column in SET_COLUMNS)  # the empty SET
        or (library == datetime.datetime(1970, 1, 1) and fast == "0000-00-00 00:00:00")
        or (library == 1900 and fast == 0)  # YEAR 0000
        or (isinstance(fast, datetime.timedelta) and isinstance(library, datetime.timedelta)
            and fast < datetime.timedelta(0) and abs(fast - library) < datetime.timedelta(seconds=1))
    )
    return library if lost else fast


FRACTIONS = ", ".join(f"dt{n} DATETIME({n}), ts{n} TIMESTAMP({n}) NULL, tm{n} TIME({n})"
                      for n in range(7))
TYPED_TABLES = {
    "num": "id INT PRIMARY KEY, d1 DECIMAL(12,2), d2 DECIMAL(65,30), d3 DECIMAL(10,0), "
           "d4 DECIMAL(5,5), d5 DECIMAL(18,9), d6 DECIMAL(65,0), d7 DECIMAL(19,4) UNSIGNED, "
           "b1 BIT(1), b10 BIT(10), b64 BIT(64), y YEAR",
    "tmp": f"id INT PRIMARY KEY, d DATE, {FRACTIONS}",
    "str": "id INT PRIMARY KEY, c CHAR(10), cu CHAR(100) CHARACTER SET utf8mb4, "
           "cl CHAR(5) CHARACTER SET latin1, bn BINARY(4), vb VARBINARY(300), tt TINYTEXT, "
           "tx TEXT, mt MEDIUMTEXT, lt LONGTEXT, tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, "
           "lb LONGBLOB, uc VARCHAR(10) CHARACTER SET ucs2, e ENUM('a','b','ç'), "
           f"e2 ENUM({','.join(repr(f'v{i}') for i in range(300))}), s SET('x','y','ç'), "
           f"s2 SET({','.join(repr(f's{i}') for i in range(64))})",
}
MAX_DECIMAL = "9" * 35 + "." + "9" * 30
NUM_ROWS = [
    "(1, 12.34, 1.5, 1, 0.5, 0.000000001, 1, 0.0001, b'1', b'1010101010', b'1', 2024)",
    f"(2, -12.34, -{MAX_DECIMAL}, -9999999999, -0.99999, -999999999.999999999, -{'9' * 65}, "
    "999999999999999.9999, b'0', b'0000000001', 18446744073709551615, 1901)",
    f"(3, 9999999999.99, {MAX_DECIMAL}, 0, 0, 0, {'9' * 65}, 0, b'0', b'1111111111', 0, 2155)",
    "(4, -0.01, -0.000000000000000000000000000001, -1, -0.00001, -0.5, -1, 12.3, NULL, NULL, "
    "NULL, 0)",
    "(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
]
MOMENTS = ["'2024-02-29 12:34:56.123456'", "'1000-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'",
           "'0000-00-00 00:00:00'", "'2024-00-15 01:02:03.5'", "NULL"]
TIMESTAMPS = ["'2024-02-29 12:34:56.123456'", "'1970-01-01 00:00:01'",
              "'2038-01-19 03:14:07.999999'", "'0000-00-00 00:00:00'", "'1999-12-31 23:59:59.9'", "NULL"]
TIMES = ["'-00:00:01.5'", "'838:59:59'", "'-838:59:59'", "'00:00:00'", "'25:00:00.000001'",
         "'-12:34:56.789012'"]
DATES = ["'2024-02-29'", "'1000-01-01'", "'9999-12-31'", "'0000-00-00'", "'2024-00-15'", "NULL"]
STR_ROWS = [
    "(1, 'abc', 'héllo 😀', 'café', x'0102', x'00ff00', 'tiny', 'ü', REPEAT('m', 70000), "
    "REPEAT('ł', 70000), x'00', x'0000', REPEAT(x'ab', 70000), REPEAT(x'cd', 70000), 'ab', 'ç', "
    "'v299', 'x,ç', 's0,s63')",
    "(2, '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', 'v0', '', '')",
    "(3, 'a  ', 'ü ', 'é', x'01000000', x'0000', 'x', REPEAT('t', 300), 'm', 'l', x'01', "
    "REPEAT(x'02', 300), x'03', x'04', 'z', 'nope', 'v1', 'y', 's5')",
    "(4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
    "NULL, NULL, NULL)",
]


def _write_typed_rows(server: MariaDBServer, schema: str) -> None:
    conn = server.connect(database=schema)
    with conn.cursor() as cur:
        # Zero and partly zero dates, invalid ENUM values: accepted only without a strict mode.
        cur.execute("SET SESSION sql_mode = '', time_zone = '+05:00'")
        cur.execute(f"INSERT INTO num VALUES {', '.join(NUM_ROWS)}")
        for i in range(len(MOMENTS)):
            fractions = ", ".join(f"{MOMENTS[i]}, {TIMESTAMPS[i]}, {TIMES[i]}" for _ in range(7))
            cur.execute(f"INSERT INTO tmp VALUES ({i + 1}, {DATES[i]}, {fractions})")
        cur.execute(f"INSERT INTO str VALUES {', '.join(STR_ROWS)}")
        cur.execute("UPDATE num SET d1 = -d1, d2 = d2 / 3, y = 1999 WHERE id <= 3")
        cur.execute("UPDATE tmp SET tm3 = '-100:00:00.001', dt6 = '2001-02-03 04:05:06.000007'")
        cur.execute("UPDATE str SET tx = REPEAT('ä', 20000), e = 'b', s = 'x,y' WHERE id = 2")
        cur.execute("DELETE FROM str WHERE id = 3")
        cur.execute("DELETE FROM tmp WHERE id = 1")
    conn.close()


def test_fast_decoder_matches_the_library_for_every_fast_type(
        full_metadata_server: MariaDBServer, fresh_schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    s = fresh_schema
    full_metadata_server.execute(f"CREATE DATABASE `{s}`")
    for table, columns in TYPED_TABLES.items():
        full_metadata_server.execute(f"CREATE TABLE `{s}`.{table} ({columns})")
    full_metadata_server.execute(f"CREATE TABLE `{s}`.geo (id INT PRIMARY KEY, p POINT)")
    start = current_position(full_metadata_server.connect(), True)
    _write_typed_rows(full_metadata_server, s)
    full_metadata_server.execute(f"INSERT INTO `{s}`.geo VALUES (1, POINT(1, 2))")
    fast, plans = _both_paths(full_metadata_server, start, monkeypatch)
    assert [p is not None for p in plans] == [True, True, True, False]  # GEOMETRY: the library
    by_table: dict[str, list[Any]] = {}
    for event in (e for tx in fast for e in tx if e.kind == "insert"):
        by_table.setdefault(event.table, []).extend(event.rows)
    num, tmp, text = by_table["num"], by_table["tmp"], by_table["str"]
    assert [str(v) for v in num[1][1:4]] == ["-12.34", f"-{MAX_DECIMAL}", "-9999999999"]
    assert num[0][8:12] == [1, 682, 1, 2024] and num[4][1:] == [None] * 11
    assert num[3][11] == 0  # YEAR 0000
    assert tmp[3][1:4] == ["0000-00-00", "0000-00-00 00:00:00", "0000-00-00 00:00:00"]
    assert tmp[4][1] == "2024-00-15"  # a partly zero date, kept
    assert tmp[0][7] == -datetime.timedelta(seconds=1, microseconds=500000)  # TIME(1)
    assert tmp[0][-3:] == [datetime.datetime(2024, 2, 29, 12, 34, 56, 123456),
                           datetime.datetime(2024, 2, 29, 7, 34, 56, 123456),  # UTC, naive
                           -datetime.timedelta(seconds=1, microseconds=500000)]
    assert tmp[2][4] == -datetime.timedelta(hours=838, minutes=59, seconds=59)
    assert [len(v) for v in text[0][8:10]] == [70000, 70000] and text[0][4] == b"\x01\x02"
    assert text[0][15:] == ["ç", "v299", "x,ç", "s0,s63"]
    assert text[1][1:3] == ["", ""] and text[1][-4:] == ["", "v0", "", ""]
    assert text[2][15] == "" and isinstance(text[0][14], bytes)  # invalid ENUM; ucs2 as bytes
