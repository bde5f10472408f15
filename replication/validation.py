"""Pre-flight checks of a job's MySQL servers, as reported by ``/v2/validation/job``.

Each check is ``{"validated": bool, "error": str}``; a check that does not apply to a side is
``None`` (the target needs no GTID, server id or binlog). The source's checks are the src
task's own start requirements (``replication.source.requirements``), so a source that
validates is one the task accepts; each error names what is wrong and the fix.
"""

from __future__ import annotations

import re
from typing import Any

import pymysql

from replication.config import MySQLConnectionConfig, SrcTaskConfig
from replication.errors import ConnectError, ReplicationError
from replication.mysql import connect
from replication.source.binlog import resolve_start
from replication.source.requirements import (
    SourceFacts,
    binlog_problems,
    gtid_problems,
    missing_binlog,
    read_facts,
    server_id_problems,
)

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


def _report(problems: list[str]) -> dict[str, Any]:
    return failed("; ".join(problems)) if problems else ok()


def source_checks(facts: SourceFacts, wants_gtid: bool,
                  start_problems: tuple[str, ...] = ()) -> dict[str, Check]:
    """The source-side checks, from the same requirements the src task enforces at start;
    ``start_problems``: why an incremental-only job's start position cannot be read."""
    return {
        "gtid_mode_validation": _report(gtid_problems(facts, wants_gtid)),
        "server_id_validation": _report(server_id_problems(facts)),
        "binlog_validation": _report(binlog_problems(facts) + list(start_problems)),
    }


def start_problems(conn: pymysql.connections.Connection, facts: SourceFacts,
                   src: SrcTaskConfig | None) -> tuple[str, ...]:
    """Whether the source still has the binlog from a job's ``gtid`` or ``binlog_file``."""
    if src is None or not (src.gtid or src.binlog_file) or binlog_problems(facts) or \
            gtid_problems(facts, bool(src.gtid)):
        return ()
    try:
        start = resolve_start(conn, src, facts.mariadb)
        missing = missing_binlog(conn, facts.mariadb, start)
    except ReplicationError as exc:
        return (str(exc),)
    except UnicodeEncodeError:
        return ("binlog_file cannot be written in the connection's character set "
                f"{src.mysql_connection_config.mysql_character_set}",)
    if missing:
        return (f"the job's start position is purged on the source ({missing}): give a newer "
                "gtid or binlog_file, or let the job make a full copy",)
    return ()


def _not_checked(reason: str, src: bool) -> dict[str, Check]:
    skipped = failed(f"not checked: {reason}")
    return {
        "privileges_validation": skipped,
        "gtid_mode_validation": skipped if src else None,
        "server_id_validation": skipped if src else None,
        "binlog_validation": skipped if src else None,
    }


def validate_mysql_task(task_name: str, cfg: MySQLConnectionConfig, src: bool,
                        src_task: SrcTaskConfig | None = None) -> dict[str, Any]:
    """The validation report of one MySQL task (``src`` selects the source-side checks;
    ``src_task``, when given, has its start position checked too)."""
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
                facts = read_facts(conn)
                report.update(source_checks(facts, bool(src_task and src_task.gtid),
                                            start_problems(conn, facts, src_task)))
            else:
                report.update(gtid_mode_validation=None, server_id_validation=None,
                              binlog_validation=None)
    except pymysql.err.MySQLError as exc:
        report.update(_not_checked(f"query failed: {exc.args[-1] if exc.args else exc}", src))
    finally:
        conn.close()
    return report
