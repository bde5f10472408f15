"""The target-side ownership fence: only the newest dest of a job may commit to its target.

Table ``dtle.dest_owner (job_id, owner, since)`` names the allocation that owns a job's target.
A dest takes ownership when it starts, in its own committed statement, and only then loads its
checkpoints. Every target transaction the dest commits starts with ``CHECK_SQL``, a locking read
of the owner row that fails with error 1242 ("Subquery returns more than 1 row") unless the
row names this dest. So:

- the check holds a shared lock on the owner row until COMMIT/ROLLBACK: the dest's parallel
  workers never wait on each other, but a takeover (an exclusive lock) waits until every
  transaction the old owner has in flight has finished, and the new owner's checkpoint read
  then sees all of them;
- a transaction the old owner starts after a takeover (or while one waits: InnoDB queues its
  shared lock behind the waiting exclusive one) reads the new owner and fails before COMMIT,
  so the client rolls it back; it is an error under any ``sql_mode``, unlike most value checks;
- a missing owner row fails the check too (the outer join yields a NULL owner).

The check is one more statement in the batch that already carries the rows and the checkpoint
row, so the hot path keeps its single round trip. It reads no table the rows write and writes
nothing itself, so it adds no lock contention between workers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pymysql

from replication.config import CHECKPOINT_SCHEMA
from replication.mysql import ConnFactory, quote_ident
from replication.stop import StopSignal
from replication.wire.transport import FencedOut

OWNER_TABLE = f"{quote_ident(CHECKPOINT_SCHEMA)}.`dest_owner`"
FENCE_ERROR = 1242  # ER_SUBQUERY_NO_1_ROW: what CHECK_SQL raises when the owner is not us
LOCK_WAIT_TIMEOUT = 1205

CREATE_SQL = f"""CREATE TABLE IF NOT EXISTS {OWNER_TABLE} (
  job_id VARCHAR(128) NOT NULL,
  owner VARCHAR(64) NOT NULL,
  since TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (job_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"""

# The correlated subquery yields two rows exactly when the locked row's owner differs (or the
# row is missing); correlation keeps the optimizer from evaluating it before the row is read.
CHECK_SQL = (f"SELECT (SELECT 1 FROM (SELECT 1 UNION ALL SELECT 1) two WHERE NOT (o.owner <=> %s)) "
             f"FROM (SELECT 1) one LEFT JOIN {OWNER_TABLE} o ON o.job_id = %s LOCK IN SHARE MODE")

TAKE_SQL = (f"INSERT INTO {OWNER_TABLE} (job_id, owner, since) VALUES (%s, %s, NOW(6)) "
            "ON DUPLICATE KEY UPDATE owner = VALUES(owner), since = VALUES(since)")



def ensure_table(conn: pymysql.connections.Connection) -> None:
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {quote_ident(CHECKPOINT_SCHEMA)}")
        cur.execute(CREATE_SQL)


class OwnerFence:
    """One dest's claim on a job's target; with an empty ``owner`` it does nothing (unfenced)."""

    def __init__(self, job_id: str, owner: str) -> None:
        self.job_id = job_id
        self.owner = owner

    @property
    def enabled(self) -> bool:
        return bool(self.owner)

    def statements(self) -> list[tuple[str, tuple]]:
        """What goes right after BEGIN in every target transaction of this dest."""
        return [(CHECK_SQL, (self.owner, self.job_id))] if self.owner else []

    def check(self, cur: Any) -> None:
        """Run the check inside the caller's open transaction (its own round trip)."""
        if self.owner:
            cur.execute(CHECK_SQL, (self.owner, self.job_id))
            cur.fetchall()

    def take(self, conn_factory: ConnFactory, stop: StopSignal | None = None) -> None:
        """Become the owner, once the previous owner's open transactions have finished."""
        if not self.owner:
            return
        conn = conn_factory()
        try:
            ensure_table(conn)
            while True:
                try:
                    with conn.cursor() as cur:
                        cur.execute(TAKE_SQL, (self.job_id, self.owner))
                    conn.commit()
                    return
                except pymysql.err.OperationalError as exc:
                    # A very long transaction of the old owner: keep waiting unless stopped.
                    if exc.args[0] != LOCK_WAIT_TIMEOUT or (stop is not None and stop.is_set()):
                        raise
                    time.sleep(0.1)
        finally:
            conn.close()

    @contextmanager
    def guard(self, conn_factory: ConnFactory, reuse: Any = None) -> Iterator[None]:
        """Hold the owner row's shared lock on a connection of its own while the body runs:
        for statements that commit by themselves (DDL), which no check can share a
        transaction with. A takeover waits for the body; a stale owner never starts it.
        ``reuse``: an open connection of the caller's for it (rolled back after, kept open),
        instead of a new one each time."""
        if not self.owner:
            yield
            return
        conn = reuse if reuse is not None else conn_factory()
        try:
            conn.begin()
            try:
                with conn.cursor() as cur:
                    self.check(cur)
            except pymysql.err.MySQLError as exc:
                fenced = self.fenced_out(exc, conn)
                if fenced is not None:
                    raise fenced from exc
                raise
            yield
        finally:
            try:
                conn.rollback()
            finally:
                if reuse is None:
                    conn.close()

    def fenced_out(self, exc: BaseException, conn: Any = None) -> FencedOut | None:
        """The stop to raise instead of ``exc`` when it is this fence's check failing."""
        if not self.owner or not isinstance(exc, pymysql.err.MySQLError):
            return None
        if not exc.args or exc.args[0] != FENCE_ERROR:
            return None
        return FencedOut(f"another allocation owns this job's target: {self._current(conn)}")

    def _current(self, conn: Any) -> str:
        if conn is None:
            return "?"
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT owner FROM {OWNER_TABLE} WHERE job_id = %s", (self.job_id,))
                row = cur.fetchone()
            conn.rollback()
        except pymysql.err.MySQLError:
            return "?"
        return str(row[0]) if row else "(none)"


UNFENCED = OwnerFence("", "")
