"""Table selection and renaming rules of replicate_do_db / replicate_ignore_db."""

from __future__ import annotations

import pytest

from replication.config import SchemaRule, TableRule
from replication.errors import ConfigError
from replication.scope.filters import TableFilter, TableMapping


def test_empty_rules_take_every_user_table_but_never_system_schemas() -> None:
    f = TableFilter()
    assert f.match("shop", "orders") == TableMapping("shop", "orders", "shop", "orders")
    assert f.match("mysql", "user") is None
    assert f.match("dtle", "gtid_executed") is None


def test_schema_regex_renames_through_group_template() -> None:
    f = TableFilter([SchemaRule(table_schema_regex=r"^shop_(\d+)$", table_schema_rename="store_${1}")])
    assert f.match("shop_7", "t").target_schema == "store_7"
    assert f.target_schema("shop_7") == "store_7"
    assert f.match("other", "t") is None


def test_table_rules_pick_tables_and_carry_columns_and_where() -> None:
    rule = SchemaRule(table_schema="db1", table_schema_rename="db2", tables=(
        TableRule(table_name="a", table_rename="a2", column_map_from=("id", "x"), where="id > 3"),
        TableRule(table_regex=r"^log_(\w+)$", table_rename="l_$1"),
    ))
    f = TableFilter([rule])
    assert f.match("db1", "a") == TableMapping("db1", "a", "db2", "a2", ("id", "x"), "`id` > 3")
    assert f.match("db1", "log_2024").target_table == "l_2024"
    assert f.match("db1", "b") is None


def test_ignore_wins_over_do() -> None:
    f = TableFilter([SchemaRule(table_schema="db1")],
                    [SchemaRule(table_schema="db1", tables=(TableRule(table_name="secret"),))])
    assert f.match("db1", "public") is not None
    assert f.match("db1", "secret") is None
    assert TableFilter(ignore_db=[SchemaRule(table_schema="db1")]).schema_in_scope("db1") is False


def test_a_bad_regex_is_a_config_error_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="table_regex"):
        TableFilter([SchemaRule(table_schema="d", tables=(TableRule(table_regex="("),))])
