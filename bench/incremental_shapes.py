"""The source traffic of the incremental benchmark: tables, workloads and table digests.

Every workload writes deterministic data (seeded), so the same binlog range replayed into a
second server must give the same tables. A digest is ``COUNT(*)`` and the SUM of each row's
CRC32 over every column (a SUM, unlike BIT_XOR, does not cancel out rows present twice).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pymysql

from scripts.mariadb_sandbox import MariaDBServer

SCHEMA = "bench"
MANY_SCHEMA = "bench_many"
PRELOADED = 30_000  # rows of ``one`` before any shape runs: what updates and deletes hit

TABLES = [
    "CREATE TABLE one (id BIGINT PRIMARY KEY, k INT NOT NULL, v VARCHAR(32), n BIGINT NOT NULL, "
    "t DOUBLE, UNIQUE KEY uk (k))",
    "CREATE TABLE hundred (id BIGINT PRIMARY KEY, a INT, b VARCHAR(32), c DOUBLE)",
    "CREATE TABLE counter (id INT PRIMARY KEY, n BIGINT NOT NULL)",
    "CREATE TABLE log (id BIGINT PRIMARY KEY, counter_id INT, note VARCHAR(64))",
    "CREATE TABLE steady (id BIGINT PRIMARY KEY, written DOUBLE NOT NULL, pad VARCHAR(32), "
    "KEY (written))",
]


@dataclass
class Written:
    """What a workload wrote: source transactions and row changes."""

    transactions: int = 0
    rows: int = 0


def create_schema(server: MariaDBServer) -> None:
    """The bench schema with its preloaded rows (run identically on source and reference)."""
    server.execute(f"CREATE DATABASE {SCHEMA}")
    conn = server.connect(database=SCHEMA)
    with conn.cursor() as cur:
        for sql in TABLES:
            cur.execute(sql)
        cur.execute("INSERT INTO one SELECT seq, seq, CONCAT('v', seq), 0, seq / 3 "
                    f"FROM seq_1_to_{PRELOADED}")
        cur.execute("INSERT INTO counter SELECT seq, 0 FROM seq_1_to_100")
    conn.close()


def digest(conn: pymysql.connections.Connection, schema: str, table: str) -> tuple[int, int]:
    """(rows, SUM of per-row CRC32 over every column) of one table."""
    with conn.cursor() as cur:
        cur.execute("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s "
                    "AND TABLE_NAME=%s ORDER BY ORDINAL_POSITION", (schema, table))
        cols = [r[0] for r in cur.fetchall()]
        if not cols:
            return -1, 0  # not there (yet)
        parts = ", ".join(f"IFNULL(`{c}`, '\\N')" for c in cols)
        cur.execute(f"SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('#', {parts}))), 0) "
                    f"FROM `{schema}`.`{table}`")
        row = cur.fetchone()
        assert row is not None  # an aggregate always answers one row
        count, total = row
    return int(count), int(total)


class OneRow:
    """One-row transactions in turn: INSERT a new key, UPDATE an existing key, DELETE the
    oldest key (autocommit: one source transaction per statement)."""

    tables = ("one",)

    def __init__(self, seed: int = 1) -> None:
        self._rng = random.Random(seed)
        self._next_id = PRELOADED + 1
        self._next_delete = 1

    def write(self, conn: pymysql.connections.Connection, count: int) -> Written:
        rng = self._rng
        with conn.cursor() as cur:
            for i in range(count):
                self.step(cur, i % 3, rng)
        return Written(count, count)

    def step(self, cur: pymysql.cursors.Cursor, kind: int, rng: random.Random) -> None:
        if kind == 0:
            new = self._next_id
            self._next_id += 1
            cur.execute("INSERT INTO one (id, k, v, n, t) VALUES (%s, %s, %s, 0, %s)",
                        (new, new, f"new{new}", rng.random()))
        elif kind == 1:
            target = rng.randint(self._next_delete, self._next_id - 1)
            cur.execute("UPDATE one SET n = n + 1, v = %s WHERE id = %s",
                        (f"u{rng.randint(0, 9999)}", target))
        else:
            cur.execute("DELETE FROM one WHERE id = %s", (self._next_delete,))
            self._next_delete += 1


class HundredRow:
    """100-row transactions, alternately: INSERT a new block of keys, UPDATE a key range of
    an earlier block (every row changes)."""

    tables = ("hundred",)

    def __init__(self, tx_rows: int = 100, seed: int = 2) -> None:
        self._rng = random.Random(seed)
        self._rows = tx_rows
        self._blocks = 0

    def write(self, conn: pymysql.connections.Connection, count: int) -> Written:
        with conn.cursor() as cur:
            for i in range(count):
                self.step(cur, i % 2 == 0 or self._blocks == 0)
        return Written(count, count * self._rows)

    def step(self, cur: pymysql.cursors.Cursor, insert: bool) -> None:
        conn, rows = cur.connection, self._rows
        if insert:
            first = self._blocks * rows
            self._blocks += 1
            conn.begin()
            cur.executemany("INSERT INTO hundred (id, a, b, c) VALUES (%s, %s, %s, %s)",
                            [(i, i % 97, f"name-{i}", i * 1.5) for i in range(first, first + rows)])
            conn.commit()
        else:
            first = self._rng.randrange(self._blocks) * rows
            cur.execute("UPDATE hundred SET a = a + 1, c = c + 1 WHERE id >= %s AND id < %s",
                        (first, first + rows))


class Mixed:
    """What an OLTP source writes: mostly one-row changes, some two-table transactions with
    a non-idempotent counter (``n = n + 1``), some 100-row batches."""

    tables = ("one", "hundred", "counter", "log")

    def __init__(self, one: OneRow, hundred: HundredRow, seed: int = 3) -> None:
        self._rng = random.Random(seed)
        self._one = one
        self._hundred = hundred
        self._log_id = 0

    def write(self, conn: pymysql.connections.Connection, count: int) -> Written:
        rng, written = self._rng, Written()
        with conn.cursor() as cur:
            for _ in range(count):
                choice = rng.random()
                if choice < 0.6:
                    self._one.step(cur, rng.randrange(3), rng)
                    written.rows += 1
                elif choice < 0.9:
                    self._log_id += 1
                    conn.begin()
                    cur.execute("UPDATE counter SET n = n + 1 WHERE id = %s", (rng.randint(1, 100),))
                    cur.execute("INSERT INTO log VALUES (%s, %s, 'mixed')",
                                (self._log_id, rng.randint(1, 100)))
                    conn.commit()
                    written.rows += 2
                else:
                    self._hundred.step(cur, rng.random() < 0.5)
                    written.rows += 100
                written.transactions += 1
        return written


def steady_writer(source: MariaDBServer, tx_per_second: float, tx_rows: int,
                  stop: threading.Event, first_id: int) -> Callable[[], Written]:
    """A thread body that writes ``tx_rows``-row INSERT transactions into ``steady`` at a fixed
    rate, each row carrying its write time; returns what it wrote."""
    def run() -> Written:
        conn = source.connect(database=SCHEMA)
        written, next_id, started = Written(), first_id, time.perf_counter()
        with conn.cursor() as cur:
            while not stop.is_set():
                now = time.time()
                rows = [(next_id + i, now, "steady") for i in range(tx_rows)]
                if tx_rows == 1:
                    cur.execute("INSERT INTO steady VALUES (%s, %s, %s)", rows[0])
                else:
                    conn.begin()
                    cur.executemany("INSERT INTO steady VALUES (%s, %s, %s)", rows)
                    conn.commit()
                next_id += tx_rows
                written.transactions += 1
                written.rows += tx_rows
                ahead = written.transactions / tx_per_second - (time.perf_counter() - started)
                if ahead > 0:
                    stop.wait(ahead)
        conn.close()
        return written
    return run


def create_many(server: MariaDBServer, tables: int) -> None:
    """``tables`` small tables of ten rows each."""
    server.execute(f"CREATE DATABASE {MANY_SCHEMA}")
    conn = server.connect(database=MANY_SCHEMA)
    with conn.cursor() as cur:
        for n in range(tables):
            cur.execute(f"CREATE TABLE t{n:04d} (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(20))")
            cur.execute(f"INSERT INTO t{n:04d} SELECT seq, 0, 'x' FROM seq_1_to_10")
    conn.close()


def touch_many(server: MariaDBServer, tables: int, value: int) -> None:
    """One one-row UPDATE per table (autocommit), setting row 1's ``v`` to ``value``."""
    conn = server.connect(database=MANY_SCHEMA)
    with conn.cursor() as cur:
        for n in range(tables):
            cur.execute(f"UPDATE t{n:04d} SET v = %s WHERE id = 1", (value,))
    conn.close()


def many_arrived(conn: pymysql.connections.Connection, tables: int, value: int) -> int:
    """How many tables hold ``value`` in row 1 (one query over all of them)."""
    selects = " UNION ALL ".join(f"SELECT v FROM {MANY_SCHEMA}.t{n:04d} WHERE id = 1" for n in range(tables))
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM ({selects}) AS x WHERE v = %s", (value,))
            row = cur.fetchone()
            assert row is not None  # an aggregate always answers one row
            return int(row[0])
    except pymysql.err.ProgrammingError:  # a table the full copy has not created yet
        return 0
