"""Helpers for the end-to-end tests: data sets, comparisons and job configs."""

from __future__ import annotations

from typing import Any

from scripts.mariadb_sandbox import MariaDBServer


def create_dataset(server: MariaDBServer, schema: str, rows: int) -> None:
    """Two tables: ``items`` with a mix of types and ``counter`` for non-idempotent updates."""
    server.execute(f"CREATE DATABASE `{schema}`")
    server.execute(
        f"CREATE TABLE `{schema}`.items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, "
        "price DECIMAL(10,2), at DATETIME(6), flag TINYINT, note TEXT)"
    )
    server.execute(f"CREATE TABLE `{schema}`.counter (id INT PRIMARY KEY, n BIGINT NOT NULL)")
    server.execute(
        f"INSERT INTO `{schema}`.items SELECT seq, CONCAT('item-', seq), seq / 7, "
        f"'2024-01-01 00:00:00.5' + INTERVAL seq SECOND, seq % 2, IF(seq % 5, NULL, 'five') "
        f"FROM `{schema}`.seq_1_to_{rows}"
    )
    server.execute(f"INSERT INTO `{schema}`.counter SELECT seq, 0 FROM `{schema}`.seq_1_to_10")


def write_some(server: MariaDBServer, schema: str, start: int, count: int) -> None:
    """Inserts, an update, a delete and counter increments that would show any duplicate."""
    server.execute(
        f"INSERT INTO `{schema}`.items SELECT seq, CONCAT('new-', seq), 1.5, NOW(6), 1, 'w' "
        f"FROM `{schema}`.seq_{start}_to_{start + count - 1}"
    )
    server.execute(f"UPDATE `{schema}`.items SET note = CONCAT('u', id) WHERE id % 97 = {start % 97}")
    server.execute(f"DELETE FROM `{schema}`.items WHERE id % 101 = {start % 101}")
    for _ in range(5):
        server.execute(f"UPDATE `{schema}`.counter SET n = n + 1")


def table_digest(server: MariaDBServer, schema: str, table: str) -> tuple[Any, ...]:
    """Row count and an order-independent checksum of every column."""
    cols = [r[0] for r in server.execute(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s "
        "ORDER BY ORDINAL_POSITION", (schema, table))]
    if not cols:
        return ("missing",)
    parts = ", ".join(f"IFNULL(`{c}`, '\\N')" for c in cols)
    row = server.execute(
        f"SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('#', {parts}))), 0) FROM `{schema}`.`{table}`"
    )[0]
    return tuple(row)


def same_data(source: MariaDBServer, target: MariaDBServer, schema: str,
              tables: tuple[str, ...] = ("items", "counter")) -> bool:
    return all(table_digest(source, schema, t) == table_digest(target, schema, t) for t in tables)


def migration_config(name: str, source: MariaDBServer, target: MariaDBServer, schema: str,
                     **src_extra: Any) -> dict[str, Any]:
    return {
        "job_name": name,
        "src_task": {"mysql_connection_config": source.connection_config(),
                     "replicate_do_db": [{"table_schema": schema}], "chunk_size": 1000, **src_extra},
        "dest_task": {"mysql_connection_config": target.connection_config()},
    }
