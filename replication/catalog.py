"""Read-only questions about a MySQL instance: is it reachable, its schemas, a table's columns."""

from __future__ import annotations

from typing import Any

from replication.config import SYSTEM_SCHEMAS, MySQLConnectionConfig
from replication.errors import ConfigError
from replication.mysql import connect


def check_connection(cfg: MySQLConnectionConfig) -> None:
    """Connect and run a trivial query; raises ``ConnectError`` if the server is unreachable."""
    conn = connect(cfg)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    finally:
        conn.close()


def list_schemas(cfg: MySQLConnectionConfig) -> list[dict[str, Any]]:
    """Every user schema with its base tables (views and system schemas left out).

    The key ``Tables`` is capitalised as in dtle's API document.
    """
    conn = connect(cfg)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME")
            schemas = [row[0] for row in cur.fetchall() if row[0] not in SYSTEM_SCHEMAS]
            cur.execute(
                "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES"
                " WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME"
            )
            tables: dict[str, list[dict[str, str]]] = {name: [] for name in schemas}
            for schema, table in cur.fetchall():
                if schema in tables:
                    tables[schema].append({"table_name": table})
    finally:
        conn.close()
    return [{"schema_name": name, "Tables": tables[name]} for name in schemas]


def list_columns(cfg: MySQLConnectionConfig, schema: str, table: str) -> list[str]:
    """The column names of ``schema.table`` in their ordinal order."""
    conn = connect(cfg)
    try:
        # The names are looked up, not stored: any name must reach the server whatever the
        # connection's character set (information_schema compares in utf8).
        conn.set_character_set("utf8mb4")
        with conn.cursor() as cur:
            cur.execute(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS"
                " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                (schema, table),
            )
            columns = [row[0] for row in cur.fetchall()]
    finally:
        conn.close()
    if not columns:
        raise ConfigError(f"table {schema}.{table} does not exist on {cfg.mysql_host}")
    return columns
