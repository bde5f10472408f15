"""DDL applied to tracked table definitions: the ALTER forms people run, in the order given."""

from __future__ import annotations

import pytest

from replication.errors import SourceError
from replication.position import BinlogPosition
from replication.source.schema import ColumnDef, SchemaHistory, SchemaVersion, TableDef
from replication.source.schema_ddl import Catalog, SchemaDDL
from replication.source.tracker import SchemaTracker, check_table_map


def _ddl() -> tuple[Catalog, SchemaDDL]:
    catalog = Catalog(schema_charsets={"d": "latin1"})
    return catalog, SchemaDDL(catalog, lambda schema, table: schema == "d")


def _columns(catalog: Catalog, table: str) -> list[tuple[object, ...]]:
    return [(c.name, c.data_type, c.unsigned, c.charset, c.values)
            for c in catalog.tables[("d", table)].columns]


CREATE = ("CREATE TABLE t (id INT8 UNSIGNED PRIMARY KEY, v VARCHAR(20), g VARCHAR(3) CHARACTER "
          "SET gbk, p POINT, f FLOAT(7,3) UNSIGNED, e ENUM('a''b','c\\'d') COLLATE utf8mb4_bin, "
          "gen VARCHAR(3) AS (CONCAT(v,'x')) PERSISTENT, KEY k (v), CONSTRAINT fk FOREIGN KEY "
          "(id) REFERENCES o(id)) /*!50100 PARTITION BY HASH(id) */")


def test_create_table_reads_types_signedness_charsets_and_members() -> None:
    catalog, ddl = _ddl()
    assert ddl.apply("d", CREATE) == [("d", "t")]
    assert _columns(catalog, "t") == [
        ("id", "bigint", True, None, ()), ("v", "varchar", False, "latin1", ()),
        ("g", "varchar", False, "gbk", ()), ("p", "point", False, None, ()),
        ("f", "float", True, None, ()), ("e", "enum", False, "utf8mb4", ("a'b", "c'd")),
        ("gen", "varchar", False, "latin1", ())]


def test_alter_forms_apply_in_order() -> None:
    catalog, ddl = _ddl()
    ddl.apply("d", CREATE)
    for statement in [
        "ALTER TABLE t ADD COLUMN c INT FIRST, ADD d TEXT AFTER id, ALGORITHM=INSTANT",
        "ALTER TABLE `d`.t DROP COLUMN p, DROP INDEX k, MODIFY COLUMN f DOUBLE AFTER c",
        "ALTER TABLE t CHANGE v vv VARCHAR(30) CHARACTER SET utf8mb4 FIRST, RENAME COLUMN g TO g2",
        "ALTER TABLE t ADD COLUMN IF NOT EXISTS (x1 INT, x2 SET('q','r')), ADD COLUMN IF NOT EXISTS c INT",
        "ALTER TABLE t DROP COLUMN IF EXISTS nothing, LOCK=NONE",
        "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        "ALTER ONLINE TABLE t ADD z BIT(3), RENAME TO t2",
    ]:
        ddl.apply("d", statement)
    assert ("d", "t") not in catalog.tables
    assert [c[0] for c in _columns(catalog, "t2")] == [
        "vv", "c", "f", "id", "d", "g2", "e", "gen", "x1", "x2", "z"]
    assert {c[3] for c in _columns(catalog, "t2") if c[1] in ("varchar", "text", "enum", "set")} \
        == {"utf8mb4"}
    assert ddl.apply("d", "RENAME TABLE t2 TO t3, t3 TO t4") == [("d", "t2"), ("d", "t3"), ("d", "t3"),
                                                                ("d", "t4")]
    assert list(catalog.tables) == [("d", "t4")]


def test_table_charset_changes_apply_to_later_columns() -> None:
    catalog, ddl = _ddl()
    ddl.apply("d", "CREATE TABLE u (a INT) DEFAULT CHARSET=gbk")
    ddl.apply("d", "ALTER TABLE u ADD b CHAR(2), DEFAULT CHARACTER SET = latin1, ADD c TEXT")
    ddl.apply("d", "CREATE TABLE w (a VARCHAR(2), b VARBINARY(3), c NATIONAL VARCHAR(2))")
    assert [c[3] for c in _columns(catalog, "u")] == [None, "gbk", "latin1"]
    assert [c[3] for c in _columns(catalog, "w")] == ["latin1", "binary", "utf8mb3"]


def test_statements_not_understood_mark_the_table_unknown() -> None:
    catalog, ddl = _ddl()
    ddl.apply("d", "CREATE TABLE t (a INT)")
    ddl.apply("d", "ALTER TABLE t ADD SYSTEM VERSIONING")
    assert "SYSTEM VERSIONING" in catalog.tables[("d", "t")].unknown
    ddl.apply("d", "CREATE TABLE x (a INT)")
    ddl.apply("d", "ALTER TABLE x FROBNICATE")
    assert "FROBNICATE" in catalog.tables[("d", "x")].unknown
    assert ddl.apply("other", "CREATE TABLE y (a INT)") == []  # out of scope: not tracked


class _MapColumn:
    def __init__(self, type_code: int) -> None:
        self.type = type_code
        self.name = None
        self.unsigned = False
        self.character_set_name = None
        self.enum_values = None
        self.set_values = None


def test_rows_whose_table_map_disagrees_stop_with_table_and_position() -> None:
    table = TableDef("d", "t", (ColumnDef("id", "int"), ColumnDef("v", "varchar", charset="latin1")))
    with pytest.raises(SourceError, match=r"d\.t at mysql-bin.000002:400 has 3 columns"):
        check_table_map(table, [_MapColumn(3), _MapColumn(15), _MapColumn(3)], "mysql-bin.000002:400")
    with pytest.raises(SourceError, match="type code 3 for column 2"):
        check_table_map(table, [_MapColumn(3), _MapColumn(3)], "mysql-bin.000002:400")


def test_missing_metadata_is_filled_from_the_tracked_definition() -> None:
    catalog = Catalog(tables={("d", "t"): TableDef("d", "t", (
        ColumnDef("id", "int", unsigned=True), ColumnDef("l", "varchar", charset="latin1"),
        ColumnDef("e", "enum", charset="utf8mb4", values=("a", "b"))))})
    tracker = SchemaTracker(catalog, {}, lambda s, t: True, lambda versions: None)
    mapped = [_MapColumn(3), _MapColumn(15), _MapColumn(247)]
    tracker.decorate(1, "d", "t", mapped, "f:1")
    assert [m.name for m in mapped] == ["id", "l", "e"]
    assert mapped[0].unsigned and mapped[1].character_set_name == "cp1252"
    assert mapped[2].enum_values == ["", "a", "b"]
    with pytest.raises(SourceError, match="no definition is known"):
        tracker.decorate(2, "d", "unknown", [_MapColumn(3)], "f:2")


def test_history_gives_the_newest_version_at_or_before_a_position() -> None:
    base = SchemaVersion("d", "t", BinlogPosition("f", 10, "0-1-5"), TableDef("d", "t", ()), base=True)
    added = SchemaVersion("d", "t", BinlogPosition("f", 20, "0-1-6"),
                          TableDef("d", "t", (ColumnDef("a", "int"),)), gtid="0-1-6")
    dropped = SchemaVersion("d", "t", BinlogPosition("f", 30, "0-1-8"), None, gtid="0-1-8")
    history = SchemaHistory([base, added, dropped])
    assert history.at(BinlogPosition("f", 15, "0-1-5"))[("d", "t")] is base
    assert history.at(BinlogPosition("f", 25, "0-1-7"))[("d", "t")] is added
    assert history.at(BinlogPosition("f", 35, "0-1-9"))[("d", "t")] is dropped


def test_a_ddl_already_in_a_base_definition_is_not_applied_again() -> None:
    recorded: list[SchemaVersion] = []
    base = SchemaVersion("d", "t", BinlogPosition("f", 100, "0-1-9"),
                         TableDef("d", "t", (ColumnDef("a", "int"), ColumnDef("b", "int"))), base=True)
    catalog = Catalog(tables={("d", "t"): base.definition})  # type: ignore[dict-item]
    tracker = SchemaTracker(catalog, {("d", "t"): base}, lambda s, t: s == "d", recorded.extend)
    tracker.apply_ddl("d", "ALTER TABLE t ADD b INT", "0-1-9", BinlogPosition("f", 90, "0-1-9"))
    assert len(catalog.tables[("d", "t")].columns) == 2 and not recorded
    tracker.apply_ddl("d", "ALTER TABLE t ADD c INT FIRST", "0-1-10", BinlogPosition("f", 120, "0-1-10"))
    assert [c.name for c in catalog.tables[("d", "t")].columns] == ["c", "a", "b"]
    assert [(v.gtid, v.position.pos) for v in recorded] == [("0-1-10", 120)]


def test_column_types_and_nullability_follow_the_statement() -> None:
    """Kafka messages carry precision, scale, fractional digits, lengths and optionality."""
    catalog, ddl = _ddl()
    ddl.apply("d", "CREATE TABLE k (id SERIAL, a DECIMAL(65, 30) NOT NULL, b DATETIME(6), "
                   "c BIT(10) DEFAULT NULL, g BINARY(16) NOT NULL, e ENUM('x','y') NOT NULL, "
                   "n INT UNSIGNED COMMENT 'not null', p INT PRIMARY KEY)")
    shown = [(c.name, c.column_type, c.nullable) for c in catalog.tables[("d", "k")].columns]
    assert shown == [("id", "bigint unsigned", False), ("a", "decimal(65,30)", False),
                     ("b", "datetime(6)", True), ("c", "bit(10)", True),
                     ("g", "binary(16)", False), ("e", "enum", False),
                     ("n", "int unsigned", True), ("p", "int", False)]
    ddl.apply("d", "ALTER TABLE k MODIFY b DATETIME(3) NOT NULL, RENAME COLUMN c TO c2")
    columns = {c.name: c for c in catalog.tables[("d", "k")].columns}
    assert (columns["b"].column_type, columns["b"].nullable) == ("datetime(3)", False)
    assert (columns["c2"].column_type, columns["c2"].nullable) == ("bit(10)", True)
    again = TableDef.from_json(catalog.tables[("d", "k")].to_json())
    assert [(c.column_type, c.nullable) for c in again.columns] == [
        (c.column_type, c.nullable) for c in catalog.tables[("d", "k")].columns]


def test_primary_key_follows_create_and_alter() -> None:
    catalog, ddl = _ddl()
    ddl.apply("d", CREATE)
    assert catalog.tables[("d", "t")].key == ("id",)
    ddl.apply("d", "CREATE TABLE k2 (a INT, `b c` INT, v INT, CONSTRAINT pk PRIMARY KEY USING BTREE "
                   "(`b c`, a(3) DESC), KEY kv (v))")
    assert catalog.tables[("d", "k2")].key == ("b c", "a")
    ddl.apply("d", "ALTER TABLE k2 CHANGE a aa BIGINT, RENAME COLUMN `b c` TO bc")
    assert catalog.tables[("d", "k2")].key == ("bc", "aa")
    ddl.apply("d", "ALTER TABLE k2 DROP PRIMARY KEY, ADD PRIMARY KEY (v)")
    assert catalog.tables[("d", "k2")].key == ("v",)
    ddl.apply("d", "ALTER TABLE k2 DROP COLUMN v")
    assert catalog.tables[("d", "k2")].key == ()
    ddl.apply("d", "CREATE TABLE k3 (a INT COMMENT 'primary key', b INT)")
    assert catalog.tables[("d", "k3")].key == ()
    assert TableDef.from_json(catalog.tables[("d", "k2")].to_json()) == catalog.tables[("d", "k2")]
