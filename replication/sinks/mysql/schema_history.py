"""The src's schema history kept in the MySQL target, beside the job's checkpoints.

Table ``dtle.schema_history``: one row per version of a replicated table's definition
(``replication.source.schema.SchemaVersion``), keyed by job, table and what made it (``base``,
the DDL's GTID, or its ``file:pos``). The src writes a DDL's versions before it sends the
transactions after that DDL, so a checkpoint past a DDL always finds its version here; writing
a version again (a src restarted before its checkpoint) keeps the first row (``INSERT
IGNORE``), whose ``id`` orders the versions in binlog order.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pymysql

from replication.config import CHECKPOINT_SCHEMA
from replication.mysql import ConnFactory, quote_ident
from replication.position import BinlogPosition
from replication.source.schema import SchemaHistory, SchemaVersion, TableDef

TABLE = f"{quote_ident(CHECKPOINT_SCHEMA)}.`schema_history`"
DEADLOCK_RETRIES = 5
# Lock waits, deadlocks, and a connection lost between writes: the write is retried whole.
RETRIED = (1205, 1213, 2006, 2013)

CREATE_SQL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
  id BIGINT NOT NULL AUTO_INCREMENT,
  job_id VARCHAR(128) NOT NULL,
  table_schema VARCHAR(64) NOT NULL,
  table_name VARCHAR(64) NOT NULL,
  ident VARCHAR(255) NOT NULL,
  binlog_file VARCHAR(255) NOT NULL,
  binlog_pos BIGINT NOT NULL,
  gtid_set LONGTEXT NOT NULL,
  gtid VARCHAR(255) NOT NULL,
  is_base TINYINT NOT NULL,
  definition LONGTEXT NULL,
  created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id),
  UNIQUE KEY (job_id, table_schema, table_name, ident)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"""

_INSERT = (f"INSERT IGNORE INTO {TABLE} (job_id, table_schema, table_name, ident, binlog_file, "
           "binlog_pos, gtid_set, gtid, is_base, definition) "
           "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _exists(cur: Any) -> bool:
    cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s "
                "AND TABLE_NAME='schema_history'", (CHECKPOINT_SCHEMA,))
    return bool(cur.fetchone()[0])


def ensure_table(conn: Any) -> None:
    """Create the table when missing. Not ``CREATE ... IF NOT EXISTS`` every time: that DDL
    waits for an exclusive lock on the ``dtle`` schema, behind the dest's open transactions on
    its checkpoint tables, and holds up every dest statement queued after it."""
    with conn.cursor() as cur:
        if _exists(cur):
            return
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {quote_ident(CHECKPOINT_SCHEMA)}")
        cur.execute(CREATE_SQL)


class SchemaHistoryWriter:
    """Writes versions durably for one job over one connection, kept open between writes
    (snapshot readers record each table's version as its copy starts; a new connection and
    the table's DDL every time cost the copy several round trips per table)."""

    def __init__(self, factory: ConnFactory, job_id: str) -> None:
        self._factory = factory
        self._job_id = job_id
        self._conn: Any = None
        self._lock = threading.Lock()

    def _connection(self) -> Any:
        if self._conn is None:
            conn = self._factory()
            ensure_table(conn)
            with conn.cursor() as cur:
                # No gap locks: snapshot readers of other jobs record at the same time.
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            self._conn = conn
        return self._conn

    def record(self, versions: Sequence[SchemaVersion]) -> None:
        """One transaction, committed before this returns. A base version starts its table's
        history anew (a new full copy or a new start): earlier versions of it are removed."""
        with self._lock:
            for attempt in range(DEADLOCK_RETRIES):
                conn = self._connection()
                try:
                    _write(conn, self._job_id, versions)
                    return
                except pymysql.err.MySQLError as exc:
                    self.close()
                    code = exc.args[0] if exc.args else 0
                    if code not in RETRIED or attempt == DEADLOCK_RETRIES - 1:
                        raise

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except pymysql.err.Error:
                pass  # already broken: dropping it is all that is left to do
            self._conn = None


def _write(conn: Any, job_id: str, versions: Sequence[SchemaVersion]) -> None:
    conn.begin()
    with conn.cursor() as cur:
        for v in versions:
            if v.base:
                cur.execute(f"DELETE FROM {TABLE} WHERE job_id=%s AND table_schema=%s AND "
                            "table_name=%s", (job_id, v.schema, v.table))
        cur.executemany(_INSERT, [
            (job_id, v.schema, v.table, v.ident, v.position.file, v.position.pos,
             v.position.gtid_set, v.gtid, int(v.base),
             v.definition.to_json() if v.definition is not None else None)
            for v in versions])
    conn.commit()


def load_history(factory: ConnFactory, job_id: str) -> SchemaHistory:
    """Every version of the job, in the order they were first written."""
    conn = factory()
    try:
        with conn.cursor() as cur:
            if not _exists(cur):
                return SchemaHistory()
            cur.execute(f"SELECT table_schema, table_name, binlog_file, binlog_pos, gtid_set, gtid, "
                        f"is_base, definition FROM {TABLE} WHERE job_id=%s ORDER BY id", (job_id,))
            rows = cur.fetchall()
    finally:
        conn.close()
    return SchemaHistory([
        SchemaVersion(_text(schema), _text(table),
                      BinlogPosition(_text(file), int(pos), _text(gtid_set)),
                      TableDef.from_json(_text(definition)) if definition is not None else None,
                      _text(gtid), bool(base))
        for schema, table, file, pos, gtid_set, gtid, base, definition in rows])


def versions_at(factory: ConnFactory, job_id: str,
                position: BinlogPosition) -> dict[tuple[str, str], SchemaVersion]:
    return load_history(factory, job_id).at(position)
