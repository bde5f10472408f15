"""The full copy's checkpoint on the target: one row per table, one row for the finished copy.

The dest writes a table's row in the same transaction as the chunk it records, so the target
always holds exactly the chunks its checkpoint says. ``load_snapshot_resume`` reads the rows back
so a restarted reader skips finished tables and continues the others after their last key.
The row with empty ``source_schema``/``source_table`` records the finished copy and its positions.
"""

from __future__ import annotations

from typing import Any

from replication.config import CHECKPOINT_SCHEMA
from replication.mysql import ConnFactory, quote_ident
from replication.position import BinlogPosition
from replication.resume import SnapshotResume, TableCheckpoint

TABLE = f"{quote_ident(CHECKPOINT_SCHEMA)}.`snapshot_checkpoint`"

CREATE_SQL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
  job_id VARCHAR(64) NOT NULL,
  source_schema VARCHAR(64) NOT NULL,
  source_table VARCHAR(64) NOT NULL,
  seq INT UNSIGNED NOT NULL,
  last_key LONGBLOB NULL,
  rows_done BIGINT UNSIGNED NOT NULL,
  keyless TINYINT NOT NULL,
  done TINYINT NOT NULL,
  start_file VARCHAR(255) NOT NULL,
  start_pos BIGINT UNSIGNED NOT NULL,
  start_gtid TEXT NOT NULL,
  end_file VARCHAR(255) NOT NULL,
  end_pos BIGINT UNSIGNED NOT NULL,
  end_gtid TEXT NOT NULL,
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (job_id, source_schema, source_table)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"""

_COLUMNS = ("seq, last_key, rows_done, keyless, done, start_file, start_pos, start_gtid, "
            "end_file, end_pos, end_gtid")



def ensure_table(conn: Any) -> None:
    """Create the checkpoint schema and table if missing (idempotent DDL, commits)."""
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {quote_ident(CHECKPOINT_SCHEMA)}")
        cur.execute(CREATE_SQL)


def _position(file: Any, pos: Any, gtid: Any) -> BinlogPosition:
    return BinlogPosition(_str(file), int(pos), _str(gtid))


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _row_to_checkpoint(row: tuple[Any, ...]) -> TableCheckpoint:
    seq, last_key, rows_done, keyless, done, sf, sp, sg, ef, ep, eg = row
    return TableCheckpoint(int(seq), bytes(last_key) if last_key is not None else None,
                           int(rows_done), bool(keyless), bool(done),
                           _position(sf, sp, sg), _position(ef, ep, eg))


def read_table(cur: Any, job_id: str, schema: str, table: str, lock: bool) -> TableCheckpoint:
    """One table's checkpoint (zero state when absent); ``lock`` takes a row lock for update."""
    cur.execute(
        f"SELECT {_COLUMNS} FROM {TABLE} WHERE job_id = %s AND source_schema = %s "
        f"AND source_table = %s" + (" FOR UPDATE" if lock else ""),
        (job_id, schema, table),
    )
    row = cur.fetchone()
    return _row_to_checkpoint(row) if row else TableCheckpoint()


def write_table(cur: Any, job_id: str, schema: str, table: str, cp: TableCheckpoint) -> None:
    """Upsert one table's checkpoint inside the caller's transaction."""
    cur.execute(
        f"INSERT INTO {TABLE} (job_id, source_schema, source_table, {_COLUMNS}) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON DUPLICATE KEY UPDATE seq = VALUES(seq), last_key = VALUES(last_key), "
        "rows_done = VALUES(rows_done), keyless = VALUES(keyless), done = VALUES(done), "
        "start_file = VALUES(start_file), start_pos = VALUES(start_pos), "
        "start_gtid = VALUES(start_gtid), end_file = VALUES(end_file), "
        "end_pos = VALUES(end_pos), end_gtid = VALUES(end_gtid)",
        (job_id, schema, table, cp.seq, cp.last_key, cp.rows_done, int(cp.keyless),
         int(cp.done), cp.start.file, cp.start.pos, cp.start.gtid_set,
         cp.end.file, cp.end.pos, cp.end.gtid_set),
    )


def advance_table(cur: Any, job_id: str, schema: str, table: str, seq: int,
                  after_key: bytes | None, last_key: bytes | None, rows: int,
                  end: BinlogPosition) -> bool:
    """Record keyed chunk ``seq`` (not the table's last), which holds the ``rows`` after
    ``after_key`` up to ``last_key`` read at ``end``, only if the table's row records chunk
    ``seq - 1`` ending at ``after_key``: for the usual chunk one statement instead of a locking
    read and a write, with what ``write_table`` would write (its start kept). False, nothing
    changed, otherwise: the caller then reads the row and decides."""
    return int(cur.execute(
        f"UPDATE {TABLE} SET seq = %s, last_key = %s, rows_done = rows_done + %s, keyless = 0, "
        "done = 0, end_file = %s, end_pos = %s, end_gtid = %s WHERE job_id = %s "
        "AND source_schema = %s AND source_table = %s AND seq = %s AND last_key <=> %s "
        "AND keyless = 0",
        (seq, last_key, rows, end.file, end.pos, end.gtid_set, job_id, schema, table,
         seq - 1, after_key),
    )) == 1


def mark_done(cur: Any, job_id: str, start: BinlogPosition, end: BinlogPosition,
              rows: int) -> None:
    """Record the finished copy (the row with empty schema and table names)."""
    write_table(cur, job_id, "", "", TableCheckpoint(0, None, rows, False, True, start, end))


def load_snapshot_resume(target_conn_factory: ConnFactory, job_id: str) -> SnapshotResume:
    """Read a job's full-copy checkpoints from the target (creating the table if missing)."""
    conn = target_conn_factory()
    try:
        ensure_table(conn)
        with conn.cursor() as cur:
            cur.execute(f"SELECT source_schema, source_table, {_COLUMNS} FROM {TABLE} "
                        "WHERE job_id = %s", (job_id,))
            rows = list(cur.fetchall())
        conn.commit()
    finally:
        conn.close()
    tables: dict[tuple[str, str], TableCheckpoint] = {}
    done = None
    for schema, table, *rest in rows:
        cp = _row_to_checkpoint(tuple(rest))
        if schema == "" and table == "":
            done = (cp.start, cp.end)
        else:
            tables[(_str(schema), _str(table))] = cp
    return SnapshotResume(tables, done)


def delete_job(target_conn_factory: ConnFactory, job_id: str) -> None:
    """Forget a job's full-copy checkpoints (the job was deleted)."""
    conn = target_conn_factory()
    try:
        ensure_table(conn)
        with conn.cursor() as cur:
            cur.execute(f"DELETE FROM {TABLE} WHERE job_id = %s", (job_id,))
        conn.commit()
    finally:
        conn.close()
