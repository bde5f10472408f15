"""Pre-flight checks of a job's MySQL servers, as reported by ``/v2/validation/job``.

Each check is ``{"validated": bool, "error": str}``; a check that does not apply to a side is
``None`` (the target needs no GTID, server id or binlog).
"""

from __future__ import annotations

import re
from typing import Any

import pymysql

from replication.config import MySQLConnectionConfig
from replication.errors import ConnectError
from replication.mysql import connect, is_mariadb

Check = dict[str, Any] | None

SRC_PRIVILEGES = ("SELECT", "REPLICATION CLIENT", "REPLICATION SLAVE")
DEST_PRIVILEGES = ("CREATE", "ALTER", "DROP", "INDEX", "INSERT", "UPDATE", "DELETE", "SELECT")
# MariaDB 10.5 renamed REPLICATION CLIENT; SHOW GRANTS prints the new name.
_SYNONYMS = {"BINLOG MONITOR": "REPLICATION CLIENT", "REPLICA MONITOR": "REPLICATION CLIENT",
             "REPLICATION REPLICA": "REPLICATION SLAVE"}
_GRANT = re.compile(r"^GRANT\s+(.+?)\s+ON\s+", re.IGNORECASE | re.DOTALL)
_COLUMNS = re.compile(r"\s*\([^)]*\)")


def ok() -> dict[str, Any]:
    return {"validated": True, "error": ""}


def failed(error: str) -> dict[str, Any]:
    return {"validated": False, "error": error}


def granted_privileges(grants: list[str]) -> set[str]:
    """The privilege names in ``SHOW GRANTS`` lines; ``ALL PRIVILEGES`` is kept as ``ALL``."""
    found: set[str] = set()
    for line in grants:
        match = _GRANT.match(line.strip())
        if not match:
            continue
        for item in _COLUMNS.sub("", match.group(1)).split(","):
            name = " ".join(item.split()).upper()
            name = "ALL" if name in ("ALL", "ALL PRIVILEGES") else _SYNONYMS.get(name, name)
            if name:
                found.add(name)
    return found


def check_privileges(grants: list[str], required: tuple[str, ...]) -> dict[str, Any]:
    have = granted_privileges(grants)
    if "ALL" in have:
        return ok()
    missing = [name for name in required if name not in have]
    if missing:
        return failed(f"the user lacks the privileges: {', '.join(missing)}")
    return ok()


def _variable(cur: pymysql.cursors.Cursor, name: str) -> Any:
    cur.execute(f"SELECT @@GLOBAL.{name}")
    row = cur.fetchone()
    return None if row is None else row[0]


def check_gtid(cur: pymysql.cursors.Cursor, mariadb: bool) -> dict[str, Any]:
    try:
        if mariadb:
            _variable(cur, "gtid_binlog_pos")
            return ok()
        mode = str(_variable(cur, "gtid_mode") or "").upper()
    except pymysql.err.MySQLError as exc:
        return failed(f"cannot read the GTID state: {exc.args[-1] if exc.args else exc}")
    return ok() if mode == "ON" else failed(f"gtid_mode is {mode or 'unset'}; it must be ON")


def check_server_id(cur: pymysql.cursors.Cursor) -> dict[str, Any]:
    server_id = int(_variable(cur, "server_id") or 0)
    return ok() if server_id > 0 else failed("server_id is 0; set a non-zero server_id")


def check_binlog(cur: pymysql.cursors.Cursor) -> dict[str, Any]:
    log_bin = str(_variable(cur, "log_bin")).upper()
    if log_bin not in ("1", "ON"):
        return failed("log_bin is OFF; start the server with the binary log enabled")
    problems = []
    binlog_format = str(_variable(cur, "binlog_format")).upper()
    if binlog_format != "ROW":
        problems.append(f"binlog_format is {binlog_format}; it must be ROW")
    row_image = str(_variable(cur, "binlog_row_image")).upper()
    if row_image != "FULL":
        problems.append(f"binlog_row_image is {row_image}; it must be FULL")
    return failed("; ".join(problems)) if problems else ok()


def _not_checked(reason: str, src: bool) -> dict[str, Check]:
    skipped = failed(f"not checked: {reason}")
    return {
        "privileges_validation": skipped,
        "gtid_mode_validation": skipped if src else None,
        "server_id_validation": skipped if src else None,
        "binlog_validation": skipped if src else None,
    }


def validate_mysql_task(task_name: str, cfg: MySQLConnectionConfig, src: bool) -> dict[str, Any]:
    """The validation report of one MySQL task (``src`` selects the source-side checks)."""
    report: dict[str, Any] = {"task_name": task_name}
    try:
        conn = connect(cfg)
    except ConnectError as exc:
        report["connection_validation"] = failed(str(exc))
        report.update(_not_checked("no connection", src))
        return report
    report["connection_validation"] = ok()
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW GRANTS")
            grants = [str(row[0]) for row in cur.fetchall()]
            report["privileges_validation"] = check_privileges(
                grants, SRC_PRIVILEGES if src else DEST_PRIVILEGES
            )
            if src:
                report["gtid_mode_validation"] = check_gtid(cur, is_mariadb(conn))
                report["server_id_validation"] = check_server_id(cur)
                report["binlog_validation"] = check_binlog(cur)
            else:
                report.update(gtid_mode_validation=None, server_id_validation=None,
                              binlog_validation=None)
    except pymysql.err.MySQLError as exc:
        report.update(_not_checked(f"query failed: {exc.args[-1] if exc.args else exc}", src))
    finally:
        conn.close()
    return report
