"""What the engine requires of a source server, checked in one place for the src task (which
refuses to start) and ``/v2/validation/job`` (which names each failed requirement and its fix),
so a job that validates does not fail at start for a configuration reason.

MySQL 5.7, 8.0 and 8.4 and MariaDB 10.x are read with the statements each has: MySQL 8.4 has no
``SHOW MASTER STATUS`` (``SHOW BINARY LOG STATUS`` since 8.2) and MySQL 5.7 no
``binlog_row_metadata``; a variable the server does not have is simply absent from ``facts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pymysql

from replication.errors import SourceError
from replication.gtid import GtidSet
from replication.position import BinlogPosition

ER_PARSE_ERROR = 1064
VARIABLES = ("log_bin", "binlog_format", "binlog_row_image", "binlog_row_metadata",
             "log_bin_compress", "binlog_transaction_compression", "binlog_row_value_options",
             "gtid_mode", "enforce_gtid_consistency", "server_id", "version")


@dataclass(frozen=True)
class SourceFacts:
    """What the checks need to know of a source: its flavour and global variables."""

    mariadb: bool
    variables: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        return self.variables.get(name, default)

    @property
    def version(self) -> tuple[int, ...]:
        digits = self.get("version").split("-", 1)[0].split(".")
        return tuple(int(d) for d in digits if d.isdigit())


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def read_facts(conn: Any) -> SourceFacts:
    """The source's flavour and the variables the checks read (one query)."""
    marks = ",".join(["%s"] * len(VARIABLES))
    with conn.cursor() as cur:
        cur.execute(f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({marks})", VARIABLES)
        found = {_text(k).lower(): _text(v) for k, v in cur.fetchall()}
    return SourceFacts("mariadb" in conn.get_server_info().lower(), found)


def _on(value: str) -> bool:
    return value.upper() in ("ON", "1")


def binlog_problems(facts: SourceFacts) -> list[str]:
    """Why the binlog cannot be replicated exactly, each with its fix (empty: it can)."""
    if not _on(facts.get("log_bin", "OFF")):
        return ["log_bin is OFF: start the server with the binary log enabled (log_bin)"]
    problems = []
    if facts.get("binlog_format").upper() != "ROW":
        problems.append(f"binlog_format is {facts.get('binlog_format') or 'unset'}: set "
                        "binlog_format=ROW (statements cannot be replicated row by row)")
    if facts.get("binlog_row_image").upper() != "FULL":
        problems.append(f"binlog_row_image is {facts.get('binlog_row_image') or 'unset'}: set "
                        "binlog_row_image=FULL (updates and deletes need every column to find "
                        "their row on the target)")
    if _on(facts.get("log_bin_compress", "OFF")):
        problems.append("log_bin_compress is ON: set log_bin_compress=OFF (compressed binlog "
                        "events are not decoded)")
    if _on(facts.get("binlog_transaction_compression", "OFF")):
        problems.append("binlog_transaction_compression is ON: set "
                        "binlog_transaction_compression=OFF (compressed transaction payloads "
                        "are not decoded)")
    if "PARTIAL_JSON" in facts.get("binlog_row_value_options").upper():
        problems.append("binlog_row_value_options is PARTIAL_JSON: set binlog_row_value_options='' "
                        "(partial JSON updates are not applied)")
    return problems


def gtid_problems(facts: SourceFacts, wants_gtid: bool) -> list[str]:
    """Whether the source's GTIDs can be used. MariaDB always has them; MySQL needs
    ``gtid_mode=ON``, or ``OFF`` for a job that reads by file/position (``wants_gtid`` false)."""
    if facts.mariadb:
        return []
    mode = facts.get("gtid_mode", "OFF").upper()
    if mode == "ON":
        return []
    if mode == "OFF" and not wants_gtid:
        return []
    if mode == "OFF":
        return ["gtid_mode is OFF but the job starts from a GTID set: set gtid_mode=ON (with "
                "enforce_gtid_consistency=ON), or start from binlog_file/binlog_pos"]
    return [f"gtid_mode is {mode}, a transition state in which some transactions have no GTID: "
            "finish the change to gtid_mode=ON (or go back to OFF)"]


def server_id_problems(facts: SourceFacts) -> list[str]:
    if int(facts.get("server_id", "0") or 0) > 0:
        return []
    return ["server_id is 0: set a non-zero server_id (a server without one does not send its "
            "binlog)"]


def check_source(conn: Any, wants_gtid: bool = False) -> SourceFacts:
    """Refuse a source the engine cannot replicate from (``SourceError`` naming every
    problem and its fix); the facts read. ``wants_gtid``: the job starts from a GTID set."""
    facts = read_facts(conn)
    problems = binlog_problems(facts) + gtid_problems(facts, wants_gtid) + server_id_problems(facts)
    if problems:
        raise SourceError("the source cannot be replicated from: " + "; ".join(problems))
    return facts


def binlog_status(conn: Any, mariadb: bool) -> tuple[Any, ...] | None:
    """The row of ``SHOW BINARY LOG STATUS`` (MySQL 8.2+) or ``SHOW MASTER STATUS`` (MySQL
    before 8.2, MariaDB): file, position, ..., and on MySQL the executed GTID set last."""
    with conn.cursor() as cur:
        if not mariadb:
            try:
                cur.execute("SHOW BINARY LOG STATUS")
                return cur.fetchone()  # type: ignore[no-any-return]
            except pymysql.err.ProgrammingError as exc:
                if not exc.args or exc.args[0] != ER_PARSE_ERROR:
                    raise
        cur.execute("SHOW MASTER STATUS")
        return cur.fetchone()  # type: ignore[no-any-return]


def _rows(conn: Any, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def missing_binlog(conn: Any, mariadb: bool, start: BinlogPosition) -> str:
    """What the source no longer has of its binlog from ``start`` on (purged), or ''."""
    logs = [_text(r[0]) for r in _rows(conn, "SHOW BINARY LOGS")]
    if not logs:
        return "the source has no binary logs"
    if mariadb:
        if not start.gtid_set:
            return ""
        oldest = _text(_rows(conn, "SELECT BINLOG_GTID_POS(%s, 4)", (logs[0],))[0][0] or "")
        executed = GtidSet.parse(start.gtid_set, True)
        lost = [g for g in oldest.split(",") if g.strip() and g.strip() not in executed]
        return (f"the transactions after the job's position up to {', '.join(lost)} (the oldest "
                f"binlog left, {logs[0]}, starts after them)") if lost else ""
    if start.gtid_set:
        purged = _text(_rows(conn, "SELECT GTID_SUBTRACT(@@GLOBAL.gtid_purged, %s)",
                             (start.gtid_set,))[0][0] or "").replace("\n", "")
        return f"the purged transactions {purged}" if purged else ""
    if start.file and start.file < logs[0]:
        return f"{start.file} (the oldest binlog is {logs[0]})"
    return ""


def check_start(conn: Any, mariadb: bool, start: BinlogPosition) -> None:
    """Refuse to stream from a position the source has purged: skipping ahead would lose the
    changes in between, silently."""
    missing = missing_binlog(conn, mariadb, start)
    if missing:
        at = f"{start.file}:{start.pos}" if start.file else ""
        if start.gtid_set:
            at += f" (GTID {GtidSet.parse(start.gtid_set, mariadb)})" if at else \
                f"GTID {GtidSet.parse(start.gtid_set, mariadb)}"
        raise SourceError(
            f"the source no longer has its binlog from {at}: {missing} are purged (binlog "
            "expiry, or PURGE BINARY LOGS, while the job was paused or behind). Replication "
            "stopped rather than skip them: re-create the job with a full copy (delete it and "
            "create it again without gtid, binlog_file or auto_gtid)")
