"""Opening a consistent snapshot on the source and finding the binlog position it matches.

MariaDB reports the binlog coordinates of a ``START TRANSACTION WITH CONSISTENT SNAPSHOT`` in the
session status ``Binlog_snapshot_file``/``Binlog_snapshot_position`` (exact, no lock), and
``BINLOG_GTID_POS`` turns them into a GTID position. MySQL has no such status: the position is
read before and after opening the view and the attempt is repeated until nothing committed in
between; on a source too busy for that, a brief ``FLUSH TABLES WITH READ LOCK`` settles it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from replication.errors import SourceError
from replication.mysql import is_mariadb
from replication.position import BinlogPosition
from replication.source.requirements import binlog_status

log = logging.getLogger(__name__)

MYSQL_ATTEMPTS = 50
# The copy reads rows as the server prints them; these make the printing exact and stable.
_STRIPPED_READ_MODES = frozenset({"PAD_CHAR_TO_FULL_LENGTH", "ANSI_QUOTES"})


def _rows(conn: Any, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return list(cur.fetchall())


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else ("" if value is None else str(value))


def prepare_read_session(conn: Any) -> None:
    """Session settings every snapshot reader uses: UTC TIMESTAMP text, utf8mb4 results, no
    padded CHAR, and no server-side timeout while the transport applies back-pressure."""
    mode = _text(_rows(conn, "SELECT @@SESSION.sql_mode")[0][0])
    kept = ",".join(m for m in mode.split(",") if m and m not in _STRIPPED_READ_MODES)
    with conn.cursor() as cur:
        cur.execute("SET NAMES utf8mb4")
        cur.execute("SET SESSION time_zone = '+00:00', sql_mode = %s, "
                    "net_write_timeout = 86400, net_read_timeout = 86400", (kept,))
        cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def source_sql_mode(conn: Any) -> str:
    """The source's global sql_mode, which decides what values (zero dates...) it may hold."""
    return _text(_rows(conn, "SELECT @@GLOBAL.sql_mode")[0][0])


def _mariadb_snapshot(conn: Any) -> BinlogPosition:
    with conn.cursor() as cur:
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        cur.execute("SHOW SESSION STATUS LIKE 'binlog_snapshot_%'")
        status = {_text(k).lower(): _text(v) for k, v in cur.fetchall()}
    file = status.get("binlog_snapshot_file", "")
    pos = int(status.get("binlog_snapshot_position") or 0)
    if not file:
        return BinlogPosition()
    gtid = _rows(conn, "SELECT BINLOG_GTID_POS(%s, %s)", (file, pos))[0][0]
    return BinlogPosition(file, pos, _text(gtid))


def _mysql_status(conn: Any) -> BinlogPosition:
    row = binlog_status(conn, mariadb=False)  # SHOW BINARY LOG STATUS on 8.2+
    if not row:
        return BinlogPosition()
    gtid = _text(row[4]) if len(row) > 4 else ""
    return BinlogPosition(_text(row[0]), int(row[1]), gtid.replace("\n", ""))


def _mysql_snapshot(conn: Any) -> BinlogPosition:
    for _ in range(MYSQL_ATTEMPTS):
        before = _mysql_status(conn)
        _rows(conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        after = _mysql_status(conn)
        if before == after:
            return after
        _rows(conn, "ROLLBACK")
        time.sleep(0.01)
    log.warning("source kept committing while the snapshot opened; taking a brief read lock")
    try:
        _rows(conn, "FLUSH TABLES WITH READ LOCK")
    except Exception as exc:  # any failure here is reported with its reason
        raise SourceError(f"cannot open a consistent snapshot: {exc}") from exc
    try:
        _rows(conn, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        return _mysql_status(conn)
    finally:
        _rows(conn, "UNLOCK TABLES")


def open_snapshot(conn: Any) -> BinlogPosition:
    """Start a consistent-snapshot transaction on ``conn``; the position it corresponds to."""
    prepare_read_session(conn)
    return _mariadb_snapshot(conn) if is_mariadb(conn) else _mysql_snapshot(conn)


def position_key(position: BinlogPosition) -> tuple[str, int]:
    """Order positions of one source: binlog files are numbered with a fixed width."""
    return (position.file, position.pos)
