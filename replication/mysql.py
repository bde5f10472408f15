"""Opening MySQL connections from a connection config, with errors the API can report."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pymysql
import pymysql.cursors

from replication.config import MySQLConnectionConfig
from replication.errors import ConnectError

CONNECT_TIMEOUT = 5

# How engine objects open connections (a config bound in a closure), so tests can pass their own.
ConnFactory = Callable[[], pymysql.connections.Connection]


def connect(
    cfg: MySQLConnectionConfig,
    *,
    database: str | None = None,
    autocommit: bool = True,
    cursorclass: type = pymysql.cursors.Cursor,
    **kwargs: Any,
) -> pymysql.connections.Connection:
    """Open a connection or raise ``ConnectError`` naming the server."""
    try:
        return pymysql.connect(
            host=cfg.mysql_host,
            port=int(cfg.mysql_port),
            user=cfg.mysql_user,
            password=cfg.mysql_password,
            charset=cfg.mysql_character_set or "utf8mb4",
            database=database,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT,
            cursorclass=cursorclass,
            **kwargs,
        )
    except pymysql.err.MySQLError as exc:
        raise ConnectError(
            f"cannot connect to MySQL at {cfg.mysql_host}:{cfg.mysql_port} "
            f"as {cfg.mysql_user!r}: {exc.args[-1] if exc.args else exc}"
        ) from exc


def quote_ident(name: str) -> str:
    """Quote an identifier with backticks, doubling any inside it."""
    return "`" + name.replace("`", "``") + "`"


def quote_table(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"


def is_mariadb(conn: pymysql.connections.Connection) -> bool:
    return "mariadb" in conn.get_server_info().lower()
