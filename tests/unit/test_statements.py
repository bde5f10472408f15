"""One target transaction's statements: rows merged into multi-row statements, and small
changes moved ahead only past rows whose unique-key values they do not touch."""

from __future__ import annotations

from replication.sinks.mysql.statements import Statements, key_values

INSERT = ("INSERT INTO t (id,v) VALUES ", "")
DELETE = ("DELETE FROM t WHERE (id) IN (", ")")


def _keys(*ids: int) -> set[tuple] | None:
    return key_values("t", [[0]], [[i] for i in ids])


def _sql(statements: Statements) -> list[str]:
    rendered = statements.render()
    return rendered.round_trips[0].split(";")


def test_rows_of_one_kind_that_follow_each_other_share_a_statement() -> None:
    batch = Statements(repr, multi=True)
    batch.add_rows(*INSERT, [[1, "a"]])
    batch.add_rows(*INSERT, [[2, "b"]])
    assert _sql(batch) == ["BEGIN", "INSERT INTO t (id,v) VALUES (1,'a'),(2,'b')"]


def test_a_small_change_moves_ahead_past_other_keys_only() -> None:
    batch = Statements(repr, multi=True)
    batch.add_rows(*INSERT, [[1, "a"]], _keys(1))
    batch.add_rows(*DELETE, [[7]], _keys(7))
    batch.add_rows(*INSERT, [[2, "b"]], _keys(2))  # past the DELETE of 7: joins the first INSERT
    batch.add_rows(*DELETE, [[2]], _keys(2))  # follows the DELETE of 7: still after the insert of 2
    batch.add_rows(*INSERT, [[3, "c"]], _keys(3))  # past the DELETEs of 7 and 2
    batch.add_rows(*INSERT, [[2, "again"]], _keys(2))  # not past the DELETE of 2
    rendered = batch.render()
    assert rendered.reordered
    assert rendered.round_trips[0].split(";") == [
        "BEGIN", "INSERT INTO t (id,v) VALUES (1,'a'),(2,'b'),(3,'c')",
        "DELETE FROM t WHERE (id) IN ((7),(2))", "INSERT INTO t (id,v) VALUES (2,'again')"]


def test_nothing_moves_past_a_statement_without_key_values() -> None:
    batch = Statements(repr, multi=True)
    batch.add_rows(*INSERT, [[1, "a"]], _keys(1))
    batch.add("DELETE FROM nokey WHERE a <=> 1 LIMIT 1")
    batch.add_rows(*INSERT, [[2, "b"]], _keys(2))
    batch.add_rows(*DELETE, [[1], [5], [6], [7], [8]], None)  # a big change: keys not computed
    batch.add_rows(*INSERT, [[3, "c"]], _keys(3))
    assert _sql(batch) == [
        "BEGIN", "INSERT INTO t (id,v) VALUES (1,'a')", "DELETE FROM nokey WHERE a <=> 1 LIMIT 1",
        "INSERT INTO t (id,v) VALUES (2,'b')", "DELETE FROM t WHERE (id) IN ((1),(5),(6),(7),(8))",
        "INSERT INTO t (id,v) VALUES (3,'c')"]


def test_in_source_order_nothing_moves() -> None:
    batch = Statements(repr, multi=True, reorder=False)
    batch.add_rows(*INSERT, [[1, "a"]], _keys(1))
    batch.add_rows(*DELETE, [[7]], _keys(7))
    batch.add_rows(*INSERT, [[2, "b"]], _keys(2))
    rendered = batch.render()
    assert not rendered.reordered and len(rendered.round_trips[0].split(";")) == 4


def test_values_that_cannot_be_compared_give_no_keys() -> None:
    assert key_values("t", [[0]], [[[1, 2]]]) is None
    assert key_values("t", [[0], [1, 2]], [[1, "x", None]]) == {("t", 0, (1,)), ("t", 1, ("x", None))}
