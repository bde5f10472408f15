"""A mixed write workload on the source, shared by the pipeline, crash and bench runs.

``counter`` takes non-idempotent increments (``n = n + 1``): if any transaction were applied
twice or lost, the target's ``n`` would differ from the source's. ``log`` takes plain inserts
with fresh keys, which a replayed transaction would hit as duplicates.
"""

from __future__ import annotations

import random
import threading

import pymysql

from scripts.mariadb_sandbox import MariaDBServer

TABLES = [
    "CREATE TABLE items (id INT PRIMARY KEY, grp INT NOT NULL, name VARCHAR(64), "
    "price DECIMAL(10,2), created DATETIME(3), note TEXT, UNIQUE KEY uq_name (name), KEY (grp))",
    "CREATE TABLE counter (id INT PRIMARY KEY, n BIGINT NOT NULL)",
    "CREATE TABLE log (id BIGINT PRIMARY KEY, item INT, ts TIMESTAMP(6) NULL)",
    "CREATE TABLE bag (a INT, b VARCHAR(20))",
]


def create_tables(server: MariaDBServer, schema: str, rows: int = 0) -> None:
    server.execute(f"CREATE DATABASE IF NOT EXISTS `{schema}`")
    conn = server.connect(database=schema)
    with conn.cursor() as cur:
        for sql in TABLES:
            cur.execute(sql)
        cur.executemany("INSERT INTO counter VALUES (%s, 0)", [(i,) for i in range(1, 11)])
        for start in range(1, rows + 1, 5000):
            last = min(rows, start + 4999)
            cur.executemany("INSERT INTO items VALUES (%s, %s, %s, %s, '2024-01-02 03:04:05.700', %s)",
                            [(i, i % 17, f"n{i}", i / 100, None) for i in range(start, last + 1)])
    conn.close()


class Workload:
    """Random transactions against the tables of ``create_tables`` until stopped."""

    def __init__(self, server: MariaDBServer, schema: str, first_id: int = 1_000_000,
                 seed: int = 7) -> None:
        self._server = server
        self._schema = schema
        self._next = first_id
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self.transactions = 0
        self._thread: threading.Thread | None = None

    def step(self, cur: pymysql.cursors.Cursor) -> None:
        rng, conn = self._rng, cur.connection
        choice = rng.random()
        conn.begin()
        if choice < 0.3:
            ids = [self._take() for _ in range(rng.randint(1, 20))]
            cur.executemany("INSERT INTO items (id, grp, name, price, created, note) "
                            "VALUES (%s, %s, %s, %s, NOW(3), %s)",
                            [(i, i % 17, f"n{i}", rng.randint(1, 9999) / 100, "x" * rng.randint(0, 50))
                             for i in ids])
        elif choice < 0.5:
            cur.execute("UPDATE counter SET n = n + 1 WHERE id = %s", (rng.randint(1, 10),))
            cur.execute("INSERT INTO log (id, item, ts) VALUES (%s, %s, NOW(6))",
                        (self._take(), rng.randint(1, 10)))
        elif choice < 0.7:
            cur.execute("UPDATE items SET price = price + 1, note = CONCAT(IFNULL(note, ''), 'u') "
                        "WHERE grp = %s ORDER BY id LIMIT 5", (rng.randint(0, 16),))
        elif choice < 0.8:
            # A primary-key change: the row moves to a fresh id.
            cur.execute("UPDATE items SET id = %s WHERE id = (SELECT id FROM (SELECT MIN(id) AS id "
                        "FROM items WHERE grp = %s) AS x)", (self._take(), rng.randint(0, 16)))
        elif choice < 0.9:
            cur.execute("DELETE FROM items WHERE grp = %s ORDER BY id LIMIT 2", (rng.randint(0, 16),))
        else:
            cur.execute("INSERT INTO bag VALUES (%s, %s)",
                        (rng.randint(1, 5), rng.choice(["a", "b", None])))
            cur.execute("UPDATE bag SET b = 'c' WHERE a = %s LIMIT 1", (rng.randint(1, 5),))
            cur.execute("DELETE FROM bag WHERE a = %s LIMIT 1", (rng.randint(1, 5),))
        conn.commit()
        self.transactions += 1

    def _take(self) -> int:
        self._next += 1
        return self._next

    def run(self, count: int | None = None, pause: float = 0.0, at: float | None = None) -> None:
        """Write until stopped or ``count`` transactions; ``at``: as if at that Unix time (the
        binlog events carry it), so the changes are as old as a test needs them."""
        conn = self._server.connect(database=self._schema)
        try:
            with conn.cursor() as cur:
                if at is not None:
                    cur.execute("SET SESSION timestamp = %s", (at,))
                while not self._stop.is_set() and (count is None or self.transactions < count):
                    self.step(cur)
                    if pause:
                        self._stop.wait(pause)
        finally:
            conn.close()

    def start(self, pause: float = 0.002) -> Workload:
        self._thread = threading.Thread(target=self.run, kwargs={"pause": pause}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
