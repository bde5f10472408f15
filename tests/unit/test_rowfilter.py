"""Row filtering: scope, renames, ``where`` on UPDATE images, ``column_map_from``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from replication.config import SchemaRule, TableRule
from replication.errors import SourceError, UnsupportedDDL
from replication.scope.filters import TableFilter
from replication.scope.rows import RowFilter, WhereEvaluator
from replication.wire.changes import DDL, DELETE, INSERT, UPDATE, RowEvent, Transaction

COLUMNS = ["id", "status", "note"]


class _Where(WhereEvaluator):
    """Evaluates ``where`` with a Python predicate instead of a server."""

    def __init__(self, predicate: Callable[[dict[str, Any]], bool]) -> None:
        self._predicate = predicate
        self.calls = 0

    def evaluate(self, where: str, columns: Sequence[str], images: Sequence[Sequence[Any]]) -> list[bool]:
        self.calls += 1
        return [self._predicate(dict(zip(columns, image, strict=True))) for image in images]


def _filter(where: str = "", columns: tuple[str, ...] = ()) -> RowFilter:
    rule = SchemaRule(table_schema="s", table_schema_rename="s2", tables=(
        TableRule(table_name="t", table_rename="t2", where=where, column_map_from=columns),))
    return RowFilter(TableFilter((rule,)), _Where(lambda row: row["status"] == "on"))


def _apply(row_filter: RowFilter, *events: RowEvent | DDL) -> list[RowEvent | DDL]:
    return row_filter.apply(Transaction("0-1-1", "f", 4, 0, list(events))).changes


def _update(*pairs: tuple[str, str]) -> RowEvent:
    return RowEvent("s", "t", UPDATE, COLUMNS,
                    [[[n, old, "x"], [n, new, "y"]] for n, (old, new) in enumerate(pairs, start=1)])


def test_an_update_is_kept_when_both_images_pass() -> None:
    out = _apply(_filter("status = 'on'"), _update(("on", "on")))
    assert [(e.kind, e.rows) for e in out] == [(UPDATE, [[[1, "on", "x"], [1, "on", "y"]]])]


def test_an_update_into_the_filter_becomes_an_insert() -> None:
    out = _apply(_filter("status = 'on'"), _update(("off", "on")))
    assert [(e.kind, e.rows) for e in out] == [(INSERT, [[1, "on", "y"]])]


def test_an_update_out_of_the_filter_becomes_a_delete() -> None:
    out = _apply(_filter("status = 'on'"), _update(("on", "off")))
    assert [(e.kind, e.rows) for e in out] == [(DELETE, [[1, "on", "x"]])]


def test_an_update_outside_the_filter_is_dropped() -> None:
    assert _apply(_filter("status = 'on'"), _update(("off", "off"))) == []


def test_mixed_updates_keep_their_order_and_group_runs_of_one_kind() -> None:
    out = _apply(_filter("status = 'on'"),
                 _update(("off", "on"), ("off", "on"), ("on", "on"), ("off", "off"), ("on", "off")))
    assert [(e.kind, [r[0] if e.kind != UPDATE else r[0][0] for r in e.rows]) for e in out] == [
        (INSERT, [1, 2]), (UPDATE, [3]), (DELETE, [5])]


def test_inserts_and_deletes_keep_only_passing_rows() -> None:
    rows = [[1, "on", ""], [2, "off", ""]]
    out = _apply(_filter("status = 'on'"), RowEvent("s", "t", INSERT, COLUMNS, rows),
                 RowEvent("s", "t", DELETE, COLUMNS, rows))
    assert [(e.kind, e.rows) for e in out] == [(INSERT, [[1, "on", ""]]), (DELETE, [[1, "on", ""]])]


def test_rows_get_target_names() -> None:
    out = _apply(_filter(), RowEvent("s", "t", INSERT, COLUMNS, [[1, "off", ""]]))
    assert [(e.schema, e.table, e.rows) for e in out] == [("s2", "t2", [[1, "off", ""]])]


def test_column_map_from_picks_and_orders_columns_of_both_images() -> None:
    out = _apply(_filter(columns=("note", "id")), _update(("on", "off")))
    assert [(e.columns, e.rows) for e in out] == [(["note", "id"], [[["x", 1], ["y", 1]]])]


def test_column_map_from_applies_after_where() -> None:
    out = _apply(_filter("status = 'on'", columns=("id",)), _update(("off", "on")))
    assert [(e.kind, e.columns, e.rows) for e in out] == [(INSERT, ["id"], [[1]])]


def test_a_missing_mapped_column_says_which() -> None:
    with pytest.raises(SourceError, match="'gone'"):
        _apply(_filter(columns=("gone",)), _update(("on", "on")))


def test_tables_outside_the_job_leave_an_empty_transaction_that_still_travels() -> None:
    row_filter = _filter()
    tx = row_filter.apply(Transaction("0-1-9", "f", 4, 0, [
        RowEvent("s", "other", INSERT, COLUMNS, [[1, "on", ""]])]))
    assert tx.changes == [] and tx.row_count == 0 and tx.gtid == "0-1-9"


def test_ddl_is_rewritten_and_unparseable_table_ddl_stops_with_context() -> None:
    row_filter = _filter()
    out = _apply(row_filter, DDL("s", "ALTER TABLE t ADD c INT"))
    assert out == [DDL("s", "ALTER TABLE `s2`.`t2` ADD c INT")]
    with pytest.raises(UnsupportedDDL, match="0-1-1"):
        _apply(row_filter, DDL("s", "CREATE SEQUENCE t"))
