"""The table digest the tests compare targets with: it must see what a broken copy looks like."""

from __future__ import annotations

import pytest

from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import schema_digest, table_digest


def _tables(server: MariaDBServer, schema: str, ddl: str, rows: dict[str, list[str]]) -> None:
    server.execute(f"CREATE DATABASE `{schema}`")
    for table, values in rows.items():
        server.execute(f"CREATE TABLE `{schema}`.`{table}` {ddl}")
        if values:
            server.execute(f"INSERT INTO `{schema}`.`{table}` VALUES {', '.join(values)}")


def _xor_digest(server: MariaDBServer, schema: str, table: str) -> tuple[int, int]:
    """What the tests compared before: count and BIT_XOR of the per-row CRC32."""
    count, crc = server.execute(
        f"SELECT COUNT(*), IFNULL(BIT_XOR(CRC32(CONCAT_WS('#', IFNULL(v, '\\N')))), 0) "
        f"FROM `{schema}`.`{table}`")[0]
    return int(count), int(crc)


def test_a_duplicated_row_changes_the_digest(source_server: MariaDBServer, fresh_schema: str) -> None:
    """A keyless target that holds ``b`` twice where the source holds ``c`` twice has the same
    count and the same BIT_XOR (each pair cancels); the sum tells them apart."""
    _tables(source_server, fresh_schema, "(v VARCHAR(10))", {
        "source": ["('a')", "('c')", "('c')"],
        "target": ["('a')", "('b')", "('b')"],
        "copied": ["('c')", "('a')", "('c')"],
        "twice": ["('a')", "('c')", "('c')", "('a')"],
    })
    assert _xor_digest(source_server, fresh_schema, "target") == \
        _xor_digest(source_server, fresh_schema, "source")
    digests = schema_digest(source_server, fresh_schema)
    assert digests["target"] != digests["source"]
    assert digests["twice"] != digests["source"]
    assert digests["copied"] == digests["source"]  # row order does not matter


@pytest.mark.parametrize("one,other", [
    ("(NULL, 'x')", "('\\\\N', 'x')"),  # NULL against the two characters \N
    ("(NULL, 'x')", "('', 'x')"),
    ("('a', NULL)", "(NULL, 'a')"),  # a value shifted into the next column
    ("('a,b', 'c')", "('a', 'b,c')"),
    ("('a#', 'b')", "('a', '#b')"),
])
def test_rows_that_differ_only_in_nulls_or_separators_have_different_digests(
        source_server: MariaDBServer, fresh_schema: str, one: str, other: str) -> None:
    _tables(source_server, fresh_schema, "(v VARCHAR(10) NULL, w VARCHAR(10) NULL)",
            {"one": [one], "other": [other]})
    assert table_digest(source_server, fresh_schema, "one") != \
        table_digest(source_server, fresh_schema, "other")


def test_a_missing_table_has_no_digest(source_server: MariaDBServer, fresh_schema: str) -> None:
    source_server.execute(f"CREATE DATABASE `{fresh_schema}`")
    assert table_digest(source_server, fresh_schema, "absent") is None
