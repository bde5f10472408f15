"""The full copy's SQL building: value rendering, key ranges, target DDL and sql_mode."""

from __future__ import annotations

import pytest

from replication.sinks.mysql.snapshot import target_sql_mode
from replication.source.tables import target_create_database, target_create_table
from replication.source.values import (
    ColumnInfo,
    after_key_condition,
    key_literal_sql,
    literal_sql,
    split_key,
    up_to_key_condition,
)


def test_it_renders_each_kind_of_column_exactly() -> None:
    assert literal_sql(ColumnInfo("n", "decimal")) == "IFNULL(`n`, 'NULL')"
    assert "CAST(`f` AS DOUBLE)" in literal_sql(ColumnInfo("f", "float"))
    assert literal_sql(ColumnInfo("t", "time")) == "QUOTE(`t`)"
    assert "HEX(`b`)" in literal_sql(ColumnInfo("b", "varbinary", "binary"))
    assert "_gbk X'" in literal_sql(ColumnInfo("g", "varchar", "gbk"))
    assert "QUOTE(CONVERT(`u` USING utf8mb4))" in literal_sql(ColumnInfo("u", "text", "utf8mb4"))


def test_key_literals_carry_no_collation() -> None:
    rendered = key_literal_sql(ColumnInfo("k", "varchar", "utf8mb4"))
    assert "COLLATE" not in rendered and "_utf8mb4 X'" in rendered


def test_a_composite_key_range_is_spelled_out_for_the_index() -> None:
    cond = after_key_condition(("a", "b"), [b"1", b"'x'"])
    assert cond == b"`a` >= 1 AND (`a` > 1 OR (`a` = 1 AND (`b` > 'x')))"
    assert up_to_key_condition(("a",), [b"7"]) == b"`a` <= 7 AND (`a` <= 7)"


def test_split_key_refuses_a_key_of_the_wrong_width() -> None:
    assert split_key(b"1,_utf8mb4 X'61'", 2) == [b"1", b"_utf8mb4 X'61'"]
    with pytest.raises(ValueError):
        split_key(b"1", 2)


def test_target_ddl_renames_the_table_and_database() -> None:
    ddl = target_create_table("CREATE TABLE `a``b` (\n  `id` int\n)", "s2", "t2")
    assert ddl == "CREATE TABLE IF NOT EXISTS `s2`.`t2` (\n  `id` int\n)"
    db = target_create_database(
        "CREATE DATABASE `src` /*!40100 DEFAULT CHARACTER SET latin1 */", "dst")
    assert db == "CREATE DATABASE IF NOT EXISTS `dst` /*!40100 DEFAULT CHARACTER SET latin1 */"


def test_target_sql_mode_admits_zero_dates_and_keeps_strictness() -> None:
    mode = target_sql_mode("STRICT_TRANS_TABLES,NO_ZERO_DATE,NO_BACKSLASH_ESCAPES,ONLY_FULL_GROUP_BY")
    assert mode == "STRICT_TRANS_TABLES,ONLY_FULL_GROUP_BY,NO_AUTO_VALUE_ON_ZERO"
    assert target_sql_mode("NO_AUTO_CREATE_USER", portable_only=True) == "NO_AUTO_VALUE_ON_ZERO"


def test_load_data_lines_become_exact_binary_literals() -> None:
    from replication.sinks.mysql.snapshot import tsv_to_values

    data = b"1\t\\N\ta\\\\b\\tc\\nd\n2\tx'y\x00z\t\n"
    assert tsv_to_values(data) == [
        b"(_binary'1',NULL,_binary'a\\\\b\tc\nd')",
        b"(_binary'2',_binary'x\\'y\\0z',_binary'')",
    ]


def test_only_types_load_data_stores_exactly_travel_as_lines() -> None:
    from replication.source.values import tsv_capable, tsv_field_sql

    assert tsv_capable((ColumnInfo("i", "int"), ColumnInfo("b", "bit"), ColumnInfo("g", "varchar", "gbk")))
    assert not tsv_capable((ColumnInfo("i", "int"), ColumnInfo("p", "point")))
    assert "X'5C4E'" in tsv_field_sql(ColumnInfo("t", "text", "utf8mb4"))  # NULL as \N
    assert "CAST(`g` AS BINARY)" in tsv_field_sql(ColumnInfo("g", "varchar", "gbk"))  # no conversion


def test_hex_fields_become_hex_literals_of_the_same_bytes() -> None:
    from replication.sinks.mysql.snapshot import tsv_to_values
    from replication.source.values import tsv_field_sql, tsv_hex

    assert tsv_hex(ColumnInfo("b", "blob", "binary")) and not tsv_hex(ColumnInfo("v", "varchar", "utf8mb4"))
    assert "HEX(`b`)" in tsv_field_sql(ColumnInfo("b", "blob", "binary"))
    assert tsv_to_values(b"1\t00FF5C\t\\N\n", [1, 2]) == [b"(_binary'1',_binary X'00FF5C',NULL)"]


def test_wide_rows_are_escaped_like_the_source_escapes_them() -> None:
    from replication.source.values import tsv_escape, tsv_lines, tsv_raw, tsv_wide_select

    assert tsv_escape(None) == b"\\N" and tsv_escape(b"\\N") == b"\\\\N"
    assert tsv_escape(b"a\tb\nc\\d\0") == b"a\\tb\\nc\\\\d\0"
    assert tsv_lines([(b"1", b"x\ty", None), (b"2", b"", b"\\")], (False, True, True)) == \
        b"1\tx\\ty\t\\N\n2\t\t\\\\\n"
    assert tsv_raw(ColumnInfo("b", "blob", "binary")) and not tsv_raw(ColumnInfo("e", "enum"))
    select = tsv_wide_select((ColumnInfo("i", "int"), ColumnInfo("t", "text", "gbk")))
    assert select == "CAST(IFNULL(`i`, X'5C4E') AS BINARY), CAST(`t` AS BINARY)"
