"""The source requirements the src task enforces and /v2/validation/job reports, one per test,
on the variables a server reports (MySQL 5.7, 8.0, 8.4 and MariaDB spellings)."""

from __future__ import annotations

from typing import Any

import pymysql
import pytest

from replication.errors import SourceError
from replication.source.requirements import SourceFacts, binlog_status, check_source
from replication.validation import source_checks

GOOD_MYSQL = {"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL",
              "gtid_mode": "ON", "enforce_gtid_consistency": "ON", "server_id": "1",
              "version": "8.4.3", "binlog_transaction_compression": "OFF",
              "binlog_row_value_options": "", "binlog_row_metadata": "MINIMAL"}
MYSQL_57 = {k: v for k, v in GOOD_MYSQL.items()
            if k not in ("binlog_row_metadata", "binlog_transaction_compression",
                         "binlog_row_value_options")} | {"version": "5.7.44-log"}
GOOD_MARIADB = {"log_bin": "ON", "binlog_format": "ROW", "binlog_row_image": "FULL",
                "server_id": "7", "version": "10.11.9-MariaDB", "log_bin_compress": "OFF",
                "binlog_row_metadata": "NO_LOG"}


def _errors(variables: dict[str, str], mariadb: bool = False, wants_gtid: bool = False) -> dict[str, Any]:
    checks = source_checks(SourceFacts(mariadb, variables), wants_gtid)
    return {name: check["error"] for name, check in checks.items() if not check["validated"]}


@pytest.mark.parametrize("variables,mariadb", [(GOOD_MYSQL, False), (MYSQL_57, False),
                                               (GOOD_MARIADB, True)])
def test_sources_without_row_metadata_validate(variables: dict[str, str], mariadb: bool) -> None:
    assert _errors(variables, mariadb) == {}


@pytest.mark.parametrize("name,value,fix", [
    ("log_bin", "OFF", "start the server with the binary log enabled"),
    ("binlog_format", "MIXED", "set binlog_format=ROW"),
    ("binlog_row_image", "MINIMAL", "set binlog_row_image=FULL"),
    ("binlog_transaction_compression", "ON", "set binlog_transaction_compression=OFF"),
    ("binlog_row_value_options", "PARTIAL_JSON", "set binlog_row_value_options=''"),
])
def test_each_binlog_requirement_names_its_fix(name: str, value: str, fix: str) -> None:
    errors = _errors(GOOD_MYSQL | {name: value})
    assert list(errors) == ["binlog_validation"]
    assert f"{name} is {value}" in errors["binlog_validation"] and fix in errors["binlog_validation"]


def test_mariadb_compressed_binlog_is_refused() -> None:
    errors = _errors(GOOD_MARIADB | {"log_bin_compress": "ON"}, mariadb=True)
    assert "set log_bin_compress=OFF" in errors["binlog_validation"]


def test_server_id_zero_is_refused() -> None:
    assert "set a non-zero server_id" in _errors(GOOD_MYSQL | {"server_id": "0"})["server_id_validation"]


@pytest.mark.parametrize("mode,wants_gtid,error", [
    ("OFF", False, None),  # file/position jobs read a source without GTIDs
    ("OFF", True, "set gtid_mode=ON"),
    ("ON_PERMISSIVE", False, "finish the change to gtid_mode=ON"),
    ("OFF_PERMISSIVE", True, "finish the change to gtid_mode=ON"),
])
def test_mysql_gtid_mode(mode: str, wants_gtid: bool, error: str | None) -> None:
    found = _errors(MYSQL_57 | {"gtid_mode": mode}, wants_gtid=wants_gtid).get("gtid_mode_validation")
    assert (found is None) if error is None else (error in found)


class _Cursor:
    def __init__(self, server: _Server) -> None:
        self._server = server
        self._rows: list[tuple[Any, ...]] = []

    def __enter__(self) -> _Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str, args: Any = None) -> None:
        self._server.statements.append(sql)
        if sql == "SHOW MASTER STATUS" and self._server.version >= (8, 4):
            raise pymysql.err.ProgrammingError(1064, "You have an error in your SQL syntax")
        if sql == "SHOW BINARY LOG STATUS" and self._server.version < (8, 2):
            raise pymysql.err.ProgrammingError(1064, "You have an error in your SQL syntax")
        if sql.startswith("SHOW GLOBAL VARIABLES"):
            self._rows = [(k, v) for k, v in self._server.variables.items() if k in args]
        else:
            self._rows = [("binlog.000003", 157, "", "", "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5")]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def fetchone(self) -> tuple[Any, ...]:
        return self._rows[0]


class _Server:
    """A MySQL connection answering as a given version does (the statements it lacks fail)."""

    def __init__(self, version: tuple[int, int], variables: dict[str, str]) -> None:
        self.version = version
        self.variables = variables
        self.statements: list[str] = []

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    def get_server_info(self) -> str:
        return self.variables["version"]


@pytest.mark.parametrize("version,statement", [((8, 4), "SHOW BINARY LOG STATUS"),
                                               ((5, 7), "SHOW MASTER STATUS")])
def test_binlog_status_uses_the_statement_the_version_has(version: tuple[int, int],
                                                          statement: str) -> None:
    server = _Server(version, GOOD_MYSQL)
    row = binlog_status(server, mariadb=False)
    assert row is not None and row[0] == "binlog.000003"
    assert server.statements[-1] == statement
    assert "SHOW MASTER STATUS" not in server.statements or version < (8, 2)


def test_the_src_refuses_what_validation_refuses() -> None:
    server = _Server((8, 4), GOOD_MYSQL | {"binlog_format": "STATEMENT", "server_id": "0"})
    with pytest.raises(SourceError) as raised:
        check_source(server)
    assert "set binlog_format=ROW" in str(raised.value) and "non-zero server_id" in str(raised.value)
    assert check_source(_Server((8, 4), GOOD_MYSQL)).mariadb is False


@pytest.mark.parametrize("version", [(8, 4), (8, 0)])
def test_the_snapshot_position_is_read_with_the_statement_the_version_has(
        version: tuple[int, int]) -> None:
    from replication.source.consistent import _mysql_snapshot
    server = _Server(version, GOOD_MYSQL)
    position = _mysql_snapshot(server)
    assert (position.file, position.pos) == ("binlog.000003", 157)
    assert position.gtid_set == "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5"
    status = [s for s in server.statements if s.startswith("SHOW") and "STATUS" in s]
    assert set(status) == ({"SHOW BINARY LOG STATUS"} if version >= (8, 2)
                           else {"SHOW BINARY LOG STATUS", "SHOW MASTER STATUS"})


class _PurgedMySQL:
    """A MySQL source whose oldest binlog is binlog.000002 and that purged uuid:1-3."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, Any]] = []

    def cursor(self) -> _PurgedCursor:
        return _PurgedCursor(self)


class _PurgedCursor(_Cursor):
    def __init__(self, server: _PurgedMySQL) -> None:
        self._purged = server
        self._rows = []

    def execute(self, sql: str, args: Any = None) -> None:
        self._purged.statements.append((sql, args))
        if sql == "SHOW BINARY LOGS":
            self._rows = [("binlog.000002", 100), ("binlog.000003", 200)]
        else:  # GTID_SUBTRACT(@@GLOBAL.gtid_purged, <the job's set>)
            covered = args[0].endswith(":1-9")
            self._rows = [("" if covered else "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-3",)]


UUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562"


def test_a_mysql_position_purged_by_gtid_or_file_is_refused_with_the_way_back() -> None:
    from replication.position import BinlogPosition
    from replication.source.requirements import check_start, missing_binlog
    server = _PurgedMySQL()
    assert missing_binlog(server, False, BinlogPosition("binlog.000002", 4, f"{UUID}:1-9")) == ""
    with pytest.raises(SourceError) as raised:
        check_start(server, False, BinlogPosition("binlog.000001", 4, f"{UUID}:1-2"))
    message = str(raised.value)
    assert f"{UUID}:1-3" in message and "re-create the job with a full copy" in message
    assert ("SELECT GTID_SUBTRACT(@@GLOBAL.gtid_purged, %s)", (f"{UUID}:1-2",)) in server.statements
    assert "binlog.000001 (the oldest binlog is binlog.000002)" in missing_binlog(
        server, False, BinlogPosition("binlog.000001", 4, ""))
