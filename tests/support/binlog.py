"""The binlog of a test server read with the project's decoder, from a position to its end."""

from __future__ import annotations

from typing import Any

from replication.config import MySQLConnectionConfig
from replication.source.binlog import BinlogReader
from replication.stop import ManualStop
from replication.wire.changes import Transaction
from scripts.mariadb_sandbox import MariaDBServer


def transactions_since(server: MariaDBServer, start: Any, server_id: int) -> list[Transaction]:
    """Every transaction after ``start`` up to the end of the binlog (the reader's first
    idle heartbeat)."""
    cfg = MySQLConnectionConfig("127.0.0.1", server.port, "root", "")
    reader = BinlogReader(cfg, server_id, start, True, ManualStop(), heartbeat=0.2)
    found: list[Transaction] = []
    try:
        for tx in reader.transactions():
            if tx is None:
                break
            found.append(tx)
    finally:
        reader.close()
    return found
