"""Opening MySQL connections from a connection config, with errors the API can report."""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Callable
from typing import Any

import pymysql
import pymysql.cursors

from replication.config import MySQLConnectionConfig
from replication.errors import ConnectError

CONNECT_TIMEOUT = 5

# How engine objects open connections (a config bound in a closure), so tests can pass their own.
ConnFactory = Callable[[], pymysql.connections.Connection]

_TLS_CONTEXTS: dict[tuple[Any, ...], ssl.SSLContext] = {}
_TLS_LOCK = threading.Lock()


def _mtime(path: Any) -> float:
    try:
        return os.stat(path).st_mtime if isinstance(path, str) and path else 0.0
    except (OSError, ValueError):  # missing, unreadable, or not a path at all
        return -1.0


# LOAD DATA LOCAL only ever sends bytes handed to ``load_data``: a server asking for any other
# file (a hostile server may ask for any path) gets an error, never a file of this host.
INFILE_NAME = "dtle-stream"
_send_local_file = pymysql.connections._send_local_file  # type: ignore[attr-defined]
_INFILE_PIECE = 64 * 1024


def _send_infile(filename: str | bytes, conn: Any) -> None:
    data = getattr(conn, "_infile_data", None)
    name = filename.decode(errors="replace") if isinstance(filename, bytes) else filename
    if not isinstance(conn, _Connection) or data is None or name != INFILE_NAME:
        if isinstance(conn, _Connection):
            raise pymysql.err.OperationalError(
                2068, f"refused the server's request for local file {name!r}")
        _send_local_file(filename, conn)  # a plain PyMySQL connection asked for it
        return
    view = memoryview(data)
    for start in range(0, len(view), _INFILE_PIECE):
        conn.write_packet(view[start:start + _INFILE_PIECE])


pymysql.connections._send_local_file = _send_infile  # type: ignore[attr-defined]


def load_data(cur: Any, statement: str | bytes, data: bytes) -> int:
    """Run ``LOAD DATA LOCAL INFILE '<INFILE_NAME>' ...`` with ``data`` as the file's content,
    from memory; the number of rows it affected."""
    conn = cur.connection
    conn._infile_data = data
    try:
        return int(cur.execute(statement))
    finally:
        conn._infile_data = None


class _Connection(pymysql.connections.Connection):
    """PyMySQL's connection with its TLS context built once per set of TLS settings: building
    one loads the system's CA store (about 30 ms of CPU), which every new connection paid,
    even one to a server that offers no TLS. A context is shared read-only between
    connections; a changed certificate or key file (its mtime) gets a new one."""

    _infile_data: bytes | None = None

    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        if isinstance(sslp, ssl.SSLContext):
            return sslp
        key = tuple(sorted((k, repr(v), _mtime(v)) for k, v in sslp.items()))
        with _TLS_LOCK:
            ctx = _TLS_CONTEXTS.get(key)
            if ctx is None:
                ctx = super()._create_ssl_ctx(sslp)  # type: ignore[misc]  # private, not in the stubs
                _TLS_CONTEXTS[key] = ctx
        return ctx


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
        return _Connection(
            host=cfg.mysql_host,
            port=int(cfg.mysql_port),
            user=cfg.mysql_user,
            password=cfg.mysql_password,
            charset=cfg.mysql_character_set or "utf8mb4",
            database=database,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT,
            cursorclass=cursorclass,
            local_infile=True,  # from memory only: see _send_infile
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
    except ValueError as exc:  # a host name or file name no system call takes (IDNA, NUL)
        raise ConnectError(f"cannot connect to {where}: not a usable host or file name "
                           f"({exc})") from exc
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
