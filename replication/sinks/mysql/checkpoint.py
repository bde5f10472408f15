"""The incremental checkpoint: which source transactions a job has applied, kept in the target.

Table ``dtle.binlog_checkpoint`` (see docs/incremental.md)::

    job_id, seq, gtid_set, binlog_file, binlog_pos, folded_seq, replay_until, updated_at
    PRIMARY KEY (job_id, seq)

- Each applied target transaction inserts one row ``seq > 0`` *inside that transaction*: the
  GTIDs it covers (its own, plus those of filtered-out transactions before it) and the binlog
  file/pos where it ends. Inserts of parallel workers never touch the same row, so they never
  wait on each other, and a row exists if and only if its rows committed.
- Row ``seq = 0`` is the compacted state: ``fold(w)`` merges every row with ``seq <= w`` into it
  and deletes them, in one transaction. ``w`` is the applier's low-water mark (every seq up to
  it committed), so row 0 is always a gap-free prefix of the binlog: its file/pos is a safe
  restart point even for a source without GTIDs. Rows above ``w`` may have gaps (out-of-order
  commits); loading unions them all, and the readers skip whatever the union contains.
- Row ``seq = -1`` exists only while a DDL runs: DDL commits on its own, so the marker lets a
  restart tell "this DDL may have run" and accept "already exists" errors for it alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pymysql

from replication.config import CHECKPOINT_SCHEMA
from replication.gtid import GtidSet, is_mariadb_gtid
from replication.mysql import ConnFactory, quote_ident
from replication.position import BinlogPosition
from replication.sinks.mysql.fence import UNFENCED, OwnerFence

log = logging.getLogger(__name__)

TABLE = f"{quote_ident(CHECKPOINT_SCHEMA)}.`binlog_checkpoint`"
PENDING_DDL_SEQ = -1

CREATE_SQL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
  job_id VARCHAR(128) NOT NULL,
  seq BIGINT NOT NULL,
  gtid_set LONGTEXT NOT NULL,
  binlog_file VARCHAR(255) NOT NULL DEFAULT '',
  binlog_pos BIGINT NOT NULL DEFAULT 0,
  folded_seq BIGINT NOT NULL DEFAULT 0,
  replay_until LONGTEXT NULL,
  updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (job_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""

INSERT_SQL = (f"INSERT INTO {TABLE} (job_id, seq, gtid_set, binlog_file, binlog_pos) "
              "VALUES (%s, %s, %s, %s, %s)")



@dataclass
class Checkpoint:
    """What the target says a job has applied."""

    executed: GtidSet
    file: str = ""  # the newest file/pos applied (display; GTID sources restart by set)
    pos: int = 0
    safe_file: str = ""  # the gap-free restart point (row 0)
    safe_pos: int = 0
    applied_positions: set[tuple[str, int]] = field(default_factory=set)
    max_seq: int = 0
    pending_ddl: str = ""
    replay_until: BinlogPosition | None = None

    def start_position(self) -> BinlogPosition:
        """Where the src resumes reading."""
        return BinlogPosition(self.safe_file, self.safe_pos, self.executed.format())

    def contains(self, gtid: str, file: str, pos: int) -> bool:
        if gtid:
            return gtid in self.executed
        return (file, pos) <= (self.safe_file, self.safe_pos) or (file, pos) in self.applied_positions


def ensure_table(conn: pymysql.connections.Connection) -> None:
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {quote_ident(CHECKPOINT_SCHEMA)}")
        cur.execute(CREATE_SQL)


def load_checkpoint(target_conn_factory: ConnFactory, job_id: str) -> Checkpoint | None:
    """The job's checkpoint from the target, or None when incremental never started."""
    conn = target_conn_factory()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s "
                        "AND TABLE_NAME='binlog_checkpoint'", (CHECKPOINT_SCHEMA,))
            found = cur.fetchone()
            if not found or not found[0]:
                return None
            cur.execute(f"SELECT seq, gtid_set, binlog_file, binlog_pos, replay_until FROM {TABLE} "
                        "WHERE job_id=%s ORDER BY seq", (job_id,))
            rows = cur.fetchall()
    finally:
        conn.close()
    return _from_rows(rows)


def _from_rows(rows: Sequence[tuple[Any, ...]]) -> Checkpoint | None:
    if not rows:
        return None
    texts = [r[1] for r in rows if r[0] >= 0 and r[1]]
    mariadb = bool(texts) and is_mariadb_gtid(texts[0])
    result = Checkpoint(GtidSet(mariadb))
    for seq, gtid_set, file, pos, replay_until in rows:
        if seq == PENDING_DDL_SEQ:
            result.pending_ddl = gtid_set
            continue
        if gtid_set:
            result.executed.update(GtidSet.parse(gtid_set, mariadb))
        if seq == 0:
            result.safe_file, result.safe_pos = file, int(pos)
            if replay_until:
                result.replay_until = _parse_position(replay_until)
        elif file:
            result.applied_positions.add((file, int(pos)))
        if file and (file, int(pos)) > (result.file, result.pos):
            result.file, result.pos = file, int(pos)
        result.max_seq = max(result.max_seq, int(seq))
    return result


def _format_position(position: BinlogPosition) -> str:
    return f"{position.file}\n{position.pos}\n{position.gtid_set}"


def _parse_position(text: str) -> BinlogPosition:
    file, pos, gtid_set = (text.split("\n") + ["", "", ""])[:3]
    return BinlogPosition(file, int(pos or 0), gtid_set)


class CheckpointStore:
    """Writes a job's checkpoint rows; the row inserts go inside the appliers' transactions."""

    def __init__(self, conn_factory: ConnFactory, job_id: str,
                 fence: OwnerFence = UNFENCED) -> None:
        self._factory = conn_factory
        self.job_id = job_id
        self._fence = fence
        self._conn: pymysql.connections.Connection | None = None

    def _connection(self) -> pymysql.connections.Connection:
        if self._conn is None:
            self._conn = self._factory()
            with self._conn.cursor() as cur:
                # No gap locks, so folding never blocks the workers' inserts above the mark.
                cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            ensure_table(self._conn)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def row_args(self, seq: int, gtids: str, file: str, pos: int) -> tuple:
        return (self.job_id, seq, gtids, file, pos)

    @contextmanager
    def _fenced(self) -> Iterator[Any]:
        """A cursor in a target transaction that checks the owner fence first; commits at the
        end, rolls back on any error (a stale owner's error becomes the fence's stop)."""
        conn = self._connection()
        conn.begin()
        try:
            with conn.cursor() as cur:
                self._fence.check(cur)
                yield cur
            conn.commit()
        except BaseException as exc:
            conn.rollback()
            fenced = self._fence.fenced_out(exc, conn)
            if fenced is not None:
                raise fenced from exc
            raise

    def start(self, position: BinlogPosition, replay_until: BinlogPosition | None = None) -> None:
        """Record where incremental starts, unless the job already has a checkpoint."""
        with self._fenced() as cur:
            cur.execute(f"INSERT IGNORE INTO {TABLE} (job_id, seq, gtid_set, binlog_file, "
                        "binlog_pos, replay_until) VALUES (%s, 0, %s, %s, %s, %s)",
                        (self.job_id, position.gtid_set, position.file, position.pos,
                         _format_position(replay_until) if replay_until else None))

    def mark_ddl(self, ident: str) -> None:
        with self._fenced() as cur:
            cur.execute(f"REPLACE INTO {TABLE} (job_id, seq, gtid_set) VALUES (%s, %s, %s)",
                        (self.job_id, PENDING_DDL_SEQ, ident))

    def clear_ddl_sql(self) -> tuple[str, tuple]:
        return (f"DELETE FROM {TABLE} WHERE job_id=%s AND seq=%s", (self.job_id, PENDING_DDL_SEQ))

    def fold(self, upto_seq: int) -> None:
        """Merge rows ``1..upto_seq`` (all committed) into row 0, in one transaction."""
        with self._fenced() as cur:
            cur.execute(f"SELECT seq, gtid_set, binlog_file, binlog_pos FROM {TABLE} "
                        "WHERE job_id=%s AND seq BETWEEN 0 AND %s ORDER BY seq FOR UPDATE",
                        (self.job_id, upto_seq))
            rows = cur.fetchall()
            if len(rows) <= 1:
                return
            merged = _fold_rows(rows)
            cur.execute(f"INSERT INTO {TABLE} (job_id, seq, gtid_set, binlog_file, binlog_pos, "
                        "folded_seq) VALUES (%s, 0, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE "
                        "gtid_set=VALUES(gtid_set), binlog_file=VALUES(binlog_file), "
                        "binlog_pos=VALUES(binlog_pos), folded_seq=VALUES(folded_seq)",
                        (self.job_id, *merged, upto_seq))
            cur.execute(f"DELETE FROM {TABLE} WHERE job_id=%s AND seq > 0 AND seq <= %s",
                        (self.job_id, upto_seq))

    def delete(self) -> None:
        with self._connection().cursor() as cur:
            cur.execute(f"DELETE FROM {TABLE} WHERE job_id=%s", (self.job_id,))


def _fold_rows(rows: list[tuple]) -> tuple[str, str, int]:
    texts = [r[1] for r in rows if r[1]]
    mariadb = bool(texts) and is_mariadb_gtid(texts[0])
    merged = GtidSet(mariadb)
    file, pos = "", 0
    for _seq, gtid_set, row_file, row_pos in rows:
        if gtid_set:
            merged.update(GtidSet.parse(gtid_set, mariadb))
        if row_file:
            file, pos = row_file, int(row_pos)
    return merged.format(), file, pos
