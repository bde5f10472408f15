"""The dest side of the full copy: creating tables and applying chunks exactly once.

Each chunk is applied in one target transaction together with its table's checkpoint row
(``snapshot_checkpoint``), so a crash leaves either both or neither. A chunk is applied only when
it is the next of its table: its number follows the checkpoint's and, for a keyed table, the key
it continues after is byte-equal to the checkpoint's last key (equal by value, not by collation).
An already applied chunk (redelivered after a restart) is skipped; a missing one is an error.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pymysql

from replication.config import JobConfig
from replication.errors import TargetError
from replication.mysql import INFILE_NAME, ConnFactory, load_data, quote_ident, quote_table
from replication.resume import TableCheckpoint
from replication.sinks.mysql import snapshot_checkpoint as checkpoint
from replication.sinks.mysql.fence import UNFENCED, OwnerFence
from replication.source.tables import target_create_database, target_create_table
from replication.stats import STAGE_FULL, TaskStats
from replication.wire.snapshot import SnapshotChunk, SnapshotDone, SnapshotTable

log = logging.getLogger(__name__)

STATEMENT_BYTES = 4 * 1024 * 1024
DUPLICATE_KEY = 1062
# The server (local_infile=OFF: 4166 on MariaDB 10.6+, 1148 before, 3948 on MySQL 8) or the
# client refused LOCAL.
LOCAL_INFILE_REFUSED = frozenset({1148, 2068, 3948, 4166})
_TSV_ESCAPES = {b"\\": b"\\", b"t": b"\t", b"n": b"\n", b"0": b"\0", b"N": b"N"}
_TSV_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
# Modes that would reject values the source legitimately holds, or change literal parsing.
_DROPPED_MODES = frozenset({"NO_BACKSLASH_ESCAPES", "NO_ZERO_DATE", "NO_ZERO_IN_DATE"})
_PORTABLE_MODES = frozenset({
    "STRICT_TRANS_TABLES", "STRICT_ALL_TABLES", "ALLOW_INVALID_DATES", "ANSI_QUOTES",
    "ERROR_FOR_DIVISION_BY_ZERO", "NO_ENGINE_SUBSTITUTION", "NO_AUTO_VALUE_ON_ZERO",
    "PIPES_AS_CONCAT", "REAL_AS_FLOAT", "IGNORE_SPACE", "HIGH_NOT_PRECEDENCE",
})


def target_sql_mode(source_mode: str, portable_only: bool = False) -> str:
    """The session sql_mode to write copied rows with, derived from the source's."""
    modes = [m for m in source_mode.split(",") if m and m not in _DROPPED_MODES]
    if portable_only:
        modes = [m for m in modes if m in _PORTABLE_MODES]
    # An explicit 0 in an AUTO_INCREMENT column must stay 0, not draw a new value.
    return ",".join([*modes, "NO_AUTO_VALUE_ON_ZERO"] if "NO_AUTO_VALUE_ON_ZERO" not in modes
                    else modes)


class SnapshotApplier:
    """Applies full-copy messages to a MySQL target; ``apply`` returns False for others.

    ``apply`` commits before it returns, so the caller may acknowledge the message right after.
    ``done`` holds the ``SnapshotDone`` once it was applied.
    """

    def __init__(self, target_conn_factory: ConnFactory, job_id: str, job: JobConfig,
                 stats: TaskStats, statement_bytes: int = STATEMENT_BYTES,
                 fence: OwnerFence = UNFENCED, stats_lock: threading.Lock | None = None) -> None:
        self._conn_factory = target_conn_factory
        self._fence = fence
        self._job_id = job_id
        self._job = job
        self._stats = stats
        # Shared by appliers that run in parallel threads over the same stats.
        self._stats_lock = stats_lock or threading.Lock()
        self._statement_bytes = statement_bytes
        self._conn: Any = None
        self._guard_conn: Any = None  # holds the owner row's lock during DDL (fenced only)
        self._sql_mode: str | None = None
        self._schema: str | None = None  # the connection's current database, created already
        self._target_columns: dict[tuple[str, str, tuple[int, ...]], tuple[bytes, bytes]] = {}
        self._local_infile = True
        self._early_ok: dict[tuple[str, str], bool] = {}
        self.done: SnapshotDone | None = None

    def apply(self, message: Any, wait_turn: Callable[[], None] | None = None,
              insert_slot: AbstractContextManager[Any] | None = None) -> bool:
        """Apply one message if it belongs to the full copy; True if it did.

        With ``wait_turn`` (parallel apply), a keyed chunk's rows are inserted first and
        ``wait_turn`` then blocks until the table's previous message has committed; only then is
        the checkpoint locked and checked, so commits still follow the table's chunk order.
        """
        if not isinstance(message, (SnapshotTable, SnapshotChunk, SnapshotDone)):
            return False
        conn = self._connection()
        try:
            if isinstance(message, SnapshotChunk):
                self._apply_chunk(conn, message, wait_turn, insert_slot)
                return True
            if wait_turn is not None:
                wait_turn()
            if isinstance(message, SnapshotTable):
                self._apply_table(conn, message)
            else:
                self._apply_done(conn, message)
        except BaseException as exc:
            fenced = self._fenced_out(conn, exc)
            self.close()  # a failed transaction is not reused; the next apply reconnects
            if fenced is not None:
                raise fenced from exc
            raise
        return True

    def _fenced_out(self, conn: Any, exc: BaseException) -> BaseException | None:
        try:
            conn.rollback()
        except pymysql.err.Error:
            return None
        return self._fence.fenced_out(exc, conn)

    def close(self) -> None:
        for conn in (self._conn, self._guard_conn):
            if conn is not None:
                try:
                    conn.close()
                except pymysql.err.Error:
                    pass
        self._conn = self._guard_conn = None
        self._sql_mode = None
        self._schema = None

    # -- session -------------------------------------------------------------------------
    def _connection(self) -> Any:
        if self._conn is None:
            conn = self._conn_factory()
            checkpoint.ensure_table(conn)
            with conn.cursor() as cur:
                cur.execute("SET NAMES utf8mb4")
                cur.execute("SET SESSION foreign_key_checks = 0, unique_checks = 0, "
                            "time_zone = '+00:00'")
                cur.execute(f"SELECT IFNULL(SUM(rows_done), 0) FROM {checkpoint.TABLE} "
                            "WHERE job_id = %s AND source_table <> ''", (self._job_id,))
                row = cur.fetchone()
                done = int(row[0]) if row else 0
            conn.autocommit(False)
            with self._stats_lock:
                self._stats.exec_master_row_count = max(self._stats.exec_master_row_count, done)
            self._conn = conn
        return self._conn

    def _set_sql_mode(self, conn: Any, source_mode: str) -> None:
        if source_mode == self._sql_mode:
            return
        with conn.cursor() as cur:
            try:
                cur.execute("SET SESSION sql_mode = %s", (target_sql_mode(source_mode),))
            except pymysql.err.MySQLError:
                # A mode the target's server does not know (MySQL vs MariaDB names).
                cur.execute("SET SESSION sql_mode = %s", (target_sql_mode(source_mode, True),))
        self._sql_mode = source_mode

    # -- tables --------------------------------------------------------------------------
    def _apply_table(self, conn: Any, msg: SnapshotTable) -> None:
        with self._stats_lock:
            self._stats.stage = STAGE_FULL
            self._stats.start_copy()
            self._stats.read_master_row_count = max(self._stats.read_master_row_count,
                                                    msg.job_rows_estimate)
        target = quote_table(msg.target_schema, msg.target_table)
        with conn.cursor() as cur:
            self._fence.check(cur)
            cp = checkpoint.read_table(cur, self._job_id, msg.source_schema, msg.source_table,
                                       lock=False)
        conn.commit()
        if cp.seq > 0:
            log.info("job %s: table %s already being copied; keeping it", self._job_id, target)
            return
        if msg.column_map or self._job.src_task.skip_create_db_table:
            self._require_table(conn, msg.target_schema, msg.target_table)
            return
        self._set_sql_mode(conn, msg.sql_mode)
        # DDL commits by itself: a second connection holds the owner row meanwhile.
        if self._fence.enabled and self._guard_conn is None:
            self._guard_conn = self._conn_factory()  # one per applier, not one per table
        with self._fence.guard(self._conn_factory, self._guard_conn), conn.cursor() as cur:
            if self._schema != msg.target_schema:
                cur.execute(target_create_database(msg.create_database_sql, msg.target_schema))
                # Unqualified names in the DDL (foreign keys) resolve in the target schema.
                conn.select_db(msg.target_schema)
                self._schema = msg.target_schema
            if self._job.src_task.drop_table_if_exists:
                cur.execute(f"DROP TABLE IF EXISTS {target}")
            cur.execute(target_create_table(msg.create_table_sql, msg.target_schema,
                                            msg.target_table))
        conn.commit()
        log.info("job %s: created table %s", self._job_id, target)

    def _require_table(self, conn: Any, schema: str, table: str) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                        "AND TABLE_NAME = %s", (schema, table))
            found = cur.fetchone() is not None
        conn.commit()
        if not found:
            raise TargetError(f"target table {quote_table(schema, table)} does not exist; "
                              "create it first (column_map_from / skip_create_db_table)")

    def _heads(self, conn: Any, msg: SnapshotChunk) -> tuple[bytes, bytes]:
        """The table's ``INSERT ... VALUES`` head and its ``LOAD DATA`` statement."""
        key = (msg.target_schema, msg.target_table, tuple(msg.unhex))
        if key not in self._target_columns:
            names = msg.columns
            if msg.column_map:
                names = self._mapped_target_columns(conn, msg)
            cols = ", ".join(quote_ident(n) for n in names)
            target = quote_table(msg.target_schema, msg.target_table)
            # LOAD DATA's default format is the one the source prints (values.tsv_row_sql);
            # hex fields go through a variable and UNHEX.
            fields = ", ".join(f"@h{i}" if i in msg.unhex else quote_ident(n)
                               for i, n in enumerate(names))
            unhex = ", ".join(f"{quote_ident(names[i])} = UNHEX(@h{i})" for i in msg.unhex)
            self._target_columns[key] = (
                f"INSERT INTO {target} ({cols}) VALUES ".encode(),
                f"LOAD DATA LOCAL INFILE '{INFILE_NAME}' INTO TABLE {target} CHARACTER SET binary "
                f"({fields})".encode() + (f" SET {unhex}".encode() if unhex else b""))
        return self._target_columns[key]

    def _write_rows(self, cur: Any, msg: SnapshotChunk, replace: bool = False) -> None:
        """The chunk's rows into the target table, inside the caller's transaction. A row that
        is already there raises IntegrityError (duplicate key) on either path; with
        ``replace`` it gives way instead: a target row holding one of the chunk's unique
        values is an older image of a row the binlog changes later. Unique checks are on for
        a replacing chunk, or InnoDB may not look for such a row at all."""
        if not replace:
            self._write(cur, msg, False)
            return
        cur.execute("SET SESSION unique_checks = 1")
        try:
            self._write(cur, msg, True)
        finally:
            cur.execute("SET SESSION unique_checks = 0")

    def _write(self, cur: Any, msg: SnapshotChunk, replace: bool) -> None:
        head, load = self._heads(cur.connection, msg)
        if replace:
            head = b"REPLACE" + head[len(b"INSERT"):]
            load = load.replace(b" INTO TABLE ", b" REPLACE INTO TABLE ", 1)
        if not msg.tsv:
            self._insert(cur, head, msg.rows)
            return
        data = b"".join(msg.rows)
        if not data:
            return
        if self._local_infile:
            try:
                affected = load_data(cur, load, data)
            except pymysql.err.MySQLError as exc:
                if not exc.args or exc.args[0] not in LOCAL_INFILE_REFUSED:
                    raise
                log.warning("job %s: the target refuses LOAD DATA LOCAL (%s); copying rows with "
                            "INSERT, which is slower", self._job_id, exc.args[-1])
                self._local_infile = False
            else:
                self._check_load(cur, msg, affected, replace)
                return
        self._insert(cur, head, tsv_to_values(data, msg.unhex))

    def _check_load(self, cur: Any, msg: SnapshotChunk, affected: int,
                    replace: bool = False) -> None:
        """LOAD DATA LOCAL turns errors into warnings (a duplicate key skips the row): any
        warning, or a row not loaded, fails the chunk as the same INSERT would have (with
        REPLACE a replaced row counts twice)."""
        loaded = affected >= msg.row_count if replace else affected == msg.row_count
        if loaded and not cur.warning_count:
            return
        cur.execute("SHOW WARNINGS LIMIT 5")
        warnings = [(int(code), str(text)) for _, code, text in cur.fetchall()]
        table = quote_table(msg.target_schema, msg.target_table)
        if warnings and all(code == DUPLICATE_KEY for code, _ in warnings):
            raise pymysql.err.IntegrityError(DUPLICATE_KEY, warnings[0][1])
        first = warnings[0][1] if warnings else f"{affected} of {msg.row_count} rows loaded"
        raise TargetError(f"full copy of {table}: chunk {msg.seq} did not load exactly: {first}")

    def _mapped_target_columns(self, conn: Any, msg: SnapshotChunk) -> list[str]:
        """Same-named target columns if all exist, else the target's own columns in order."""
        with conn.cursor() as cur:
            cur.execute("SELECT COLUMN_NAME, GENERATION_EXPRESSION FROM information_schema.COLUMNS"
                        " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                        (msg.target_schema, msg.target_table))
            target = [str(name) for name, generated in cur.fetchall() if not generated]
        if all(c in target for c in msg.columns):
            return list(msg.columns)
        if len(target) != len(msg.columns):
            raise TargetError(
                f"column_map_from of {quote_table(msg.source_schema, msg.source_table)} names "
                f"{len(msg.columns)} columns but {quote_table(msg.target_schema, msg.target_table)}"
                f" has {len(target)}")
        return target

    # -- chunks --------------------------------------------------------------------------
    def _apply_chunk(self, conn: Any, msg: SnapshotChunk,
                     wait_turn: Callable[[], None] | None = None,
                     insert_slot: AbstractContextManager[Any] | None = None) -> None:
        self._set_sql_mode(conn, msg.sql_mode)
        with conn.cursor() as cur:
            inserted = wait_turn is not None and self._insert_early(conn, cur, msg, insert_slot)
            if wait_turn is not None:
                wait_turn()
            # Before the checkpoint read: it locks the owner row until COMMIT. Rows inserted
            # earlier are uncommitted; a stale owner fails here and rolls them back.
            self._fence.check(cur)
            if inserted and msg.seq > 1 and not msg.last and checkpoint.advance_table(
                    cur, self._job_id, msg.source_schema, msg.source_table, msg.seq,
                    msg.after_key, msg.last_key, msg.row_count, msg.position):
                # The usual keyed chunk: it continued the chain (what
                # ``TableCheckpoint.continued_by`` checks), its rows are in, its checkpoint now
                # counts them.
                conn.commit()
                with self._stats_lock:
                    self._stats.exec_master_row_count += msg.row_count
                return
            cp = checkpoint.read_table(cur, self._job_id, msg.source_schema, msg.source_table,
                                       lock=True)
            if not cp.continued_by(msg, "the target"):
                log.debug("job %s: chunk %d of %s.%s already applied", self._job_id, msg.seq,
                          msg.source_schema, msg.source_table)
                conn.rollback()
                return
            rows_before = cp.rows_done
            if msg.keyless and msg.restart and cp.seq > 0:
                cur.execute(f"DELETE FROM {quote_table(msg.target_schema, msg.target_table)}")
                rows_before = 0
            if not inserted:
                self._write_rows(cur, msg, replace=self._after_another_snapshot(msg, cp))
            resumed = cp.seq > 0 and not (msg.keyless and msg.restart)
            checkpoint.write_table(cur, self._job_id, msg.source_schema, msg.source_table,
                                   TableCheckpoint(
                                       msg.seq, msg.last_key, rows_before + msg.row_count,
                                       msg.keyless, msg.last,
                                       cp.start if resumed else msg.position, msg.position))
        conn.commit()
        with self._stats_lock:
            self._stats.exec_master_row_count += msg.row_count
        if msg.last:
            log.info("job %s: table %s copied, %d rows (full copy %s%%)", self._job_id,
                     quote_table(msg.target_schema, msg.target_table),
                     rows_before + msg.row_count, self._stats.progress()[0])

    def _insert_early(self, conn: Any, cur: Any, msg: SnapshotChunk,
                      insert_slot: AbstractContextManager[Any] | None) -> bool:
        """Insert a keyed chunk's rows before its turn (inside ``insert_slot``, which bounds the
        table's concurrent inserts); False (nothing inserted) for a keyless chunk or when a row
        already exists (a redelivered chunk): then the ordered path decides."""
        if msg.keyless or not self._only_primary_unique(conn, msg):
            return False  # no key: a redelivery would not be noticed, and restart deletes
        try:
            with insert_slot or nullcontext():
                self._write_rows(cur, msg)
        except pymysql.err.IntegrityError as exc:
            if exc.args[0] != DUPLICATE_KEY:
                raise
            conn.rollback()
            return False
        return True

    def _only_primary_unique(self, conn: Any, msg: SnapshotChunk) -> bool:
        """True when the target's only unique index is its primary key. Then chunks of the
        table insert disjoint key ranges that take no locks on each other; another unique index
        (NULLs, values out of key order) could make an early insert wait for a later chunk
        that itself waits for its turn."""
        key = (msg.target_schema, msg.target_table)
        if key not in self._early_ok:
            with conn.cursor() as cur:
                cur.execute("SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS "
                            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND NON_UNIQUE = 0",
                            (msg.target_schema, msg.target_table))
                names = [str(name) for (name,) in cur.fetchall()]
            conn.commit()
            self._early_ok[key] = names == ["PRIMARY"]
        return self._early_ok[key]

    @staticmethod
    def _after_another_snapshot(msg: SnapshotChunk, cp: TableCheckpoint) -> bool:
        """A keyed chunk read in a later snapshot than the table's first chunks (the copy was
        resumed). A row may have left the range copied before for this one (its key changed
        in between) and still be in the target under its old key, holding a unique value the
        row brings again: the binlog replayed from the first snapshot moves it later."""
        return cp.seq > 0 and not msg.keyless and msg.position != cp.start

    def _insert(self, cur: Any, head: bytes, rows: list[bytes]) -> None:
        """Multi-row INSERTs of at most ``statement_bytes`` each (one row may exceed it)."""
        batch: list[bytes] = []
        size = len(head)
        for row in rows:
            if batch and size + len(row) + 1 > self._statement_bytes:
                cur.execute(head + b",".join(batch))
                batch, size = [], len(head)
            batch.append(row)
            size += len(row) + 1
        if batch:
            cur.execute(head + b",".join(batch))

    def _apply_done(self, conn: Any, msg: SnapshotDone) -> None:
        with conn.cursor() as cur:
            self._fence.check(cur)
            checkpoint.mark_done(cur, self._job_id, msg.start, msg.end, msg.rows)
        conn.commit()
        self.done = msg
        self._stats.copy_done = True
        log.info("job %s: full copy complete: %d tables, %d rows; incremental from %s",
                 self._job_id, msg.tables, msg.rows, msg.start)


def _unescape_field(field: bytes) -> bytes:
    if b"\\" not in field:
        return field
    return _TSV_ESCAPE.sub(lambda m: _TSV_ESCAPES.get(m.group(1), m.group(1)), field)


def _sql_bytes(value: bytes) -> bytes:
    """A ``_binary'...'`` literal of the bytes (the target session has backslash escapes)."""
    escaped = value.replace(b"\\", b"\\\\").replace(b"'", b"\\'").replace(b"\0", b"\\0")
    return b"_binary'" + escaped + b"'"


def tsv_to_values(data: bytes, unhex: list[int] | tuple[int, ...] = ()) -> list[bytes]:
    """LOAD DATA lines (``values.tsv_row_sql``) as VALUES tuples, for a target that refuses
    LOAD DATA LOCAL. Every field becomes a binary string literal, which the server converts to
    the column's type exactly as LOAD DATA would (raw bytes into a text column); the fields at
    the positions ``unhex`` hold hex and become ``X'..'`` of the same bytes."""
    rows = []
    hexed = set(unhex)
    for line in data.split(b"\n")[:-1]:
        fields = [b"NULL" if f == b"\\N"
                  else b"_binary X'" + f + b"'" if i in hexed
                  else _sql_bytes(_unescape_field(f))
                  for i, f in enumerate(line.split(b"\t"))]
        rows.append(b"(" + b",".join(fields) + b")")
    return rows
