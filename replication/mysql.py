"""Opening MySQL connections from a connection config, with errors the API can report."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from typing import Any

import pymysql
import pymysql.cursors

from replication.config import MySQLConnectionConfig
from replication.errors import ConnectError

CONNECT_TIMEOUT = 5

# How engine objects open connections (a config bound in a closure), so tests can pass their own.
ConnFactory = Callable[[], pymysql.connections.Connection]


def tls_options(cfg: MySQLConnectionConfig) -> dict[str, Any]:
    """PyMySQL's TLS arguments for a config (also the binlog reader's connection settings).

    With none of the ``mysql_ssl_*`` options PyMySQL still uses TLS when the server offers it,
    unverified. Any option makes TLS required (no silent fall back to plain text); a CA makes
    the certificate checked against it; verify_identity also checks the host name.
    """
    options: dict[str, Any] = {}
    if cfg.mysql_ssl_ca:
        options.update(ssl_ca=cfg.mysql_ssl_ca, ssl_verify_cert=True)
    if cfg.mysql_ssl_cert:
        options.update(ssl_cert=cfg.mysql_ssl_cert, ssl_key=cfg.mysql_ssl_key or None)
    if cfg.mysql_ssl_verify_identity:
        options["ssl_verify_identity"] = True
    return options


def _tls_reason(exc: BaseException | None) -> str | None:
    """A sentence for a TLS failure (the certificate or a file), None for anything else."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"TLS: the server's certificate was not accepted ({exc.verify_message}); "
                "check mysql_ssl_ca and, with mysql_ssl_verify_identity, mysql_host")
    if isinstance(exc, ssl.SSLError):
        return f"TLS: the handshake failed ({exc.reason or exc}); check the mysql_ssl_* options"
    return None


def connect(
    cfg: MySQLConnectionConfig,
    *,
    database: str | None = None,
    autocommit: bool = True,
    cursorclass: type = pymysql.cursors.Cursor,
    **kwargs: Any,
) -> pymysql.connections.Connection:
    """Open a connection or raise ``ConnectError`` naming the server (never the password)."""
    where = f"MySQL at {cfg.mysql_host}:{cfg.mysql_port} as {cfg.mysql_user!r}"
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
            **{**tls_options(cfg), **kwargs},
        )
    except pymysql.err.MySQLError as exc:
        reason = _tls_reason(getattr(exc, "original_exception", None))
        raise ConnectError(
            f"cannot connect to {where}: {reason or (exc.args[-1] if exc.args else exc)}"
        ) from exc
    except ssl.SSLError as exc:  # a certificate or key file that is not PEM
        raise ConnectError(f"cannot connect to {where}: TLS: cannot use the mysql_ssl_* "
                           f"files ({exc.reason or exc})") from exc
    except OSError as exc:  # raised while PyMySQL loads the files, before connecting
        unreadable = [path for path in (cfg.mysql_ssl_ca, cfg.mysql_ssl_cert, cfg.mysql_ssl_key)
                      if path and not os.access(path, os.R_OK)]
        raise ConnectError(f"cannot connect to {where}: TLS: cannot read "
                           f"{', '.join(unreadable) or 'a mysql_ssl_* file'} on this host "
                           f"({exc.strerror or exc})") from exc


def quote_ident(name: str) -> str:
    """Quote an identifier with backticks, doubling any inside it."""
    return "`" + name.replace("`", "``") + "`"


def quote_table(schema: str, table: str) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}"


def is_mariadb(conn: pymysql.connections.Connection) -> bool:
    return "mariadb" in conn.get_server_info().lower()
