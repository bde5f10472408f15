"""Table digests: how the tests decide that a target holds exactly what its source holds.

A table's digest is its row count and the SUM of a CRC32 per row. A sum, not ``BIT_XOR``: a
row applied twice (what a restart test must catch) adds its CRC again, where XOR would cancel
the pair; the count alone misses a lost row replaced by a duplicated one. Each row is rendered
column by column as ``v<hex of the bytes>`` or ``n`` for NULL, so NULL differs from every
value, the string ``\\N`` and the empty string included, and no value can shift into the next
column. FLOAT columns are compared through DOUBLE: their text differs between servers.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pymysql

from replication.mysql import quote_ident
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.incremental import Running

Digest = tuple[int, int]
ER_BAD_FIELD = 1054
ER_NO_SUCH_TABLE = 1146


def _column_text(name: str, data_type: str) -> str:
    col = quote_ident(name)
    if data_type == "float":
        col = f"CAST({col} AS DOUBLE)"
    return f"IFNULL(CONCAT('v', HEX(CAST({col} AS BINARY))), 'n')"


def row_text_sql(columns: list[tuple[str, str]]) -> str:
    """SQL rendering one row of (name, DATA_TYPE) columns as the digest sees it."""
    return f"CONCAT_WS(',', {', '.join(_column_text(n, t) for n, t in columns)})"


def _columns(server: MariaDBServer, schema: str, table: str) -> list[tuple[str, str]]:
    return [(str(n), str(t)) for n, t in server.execute(
        "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (schema, table))]


def table_digest(server: MariaDBServer, schema: str, table: str,
                 columns: list[str] | None = None, where: str = "") -> Digest | None:
    """(row count, SUM of a CRC32 per row) over ``columns`` (default: all, in table order);
    None when the table does not exist."""
    types = dict(_columns(server, schema, table))
    if not types:
        return None
    names = columns or list(types)
    sql = (f"SELECT COUNT(*), IFNULL(SUM(CRC32({row_text_sql([(n, types[n]) for n in names])})), 0) "
           f"FROM {quote_ident(schema)}.{quote_ident(table)}")
    if where:
        sql += f" WHERE {where}"
    count, crc = server.execute(sql)[0]
    return int(count), int(crc)


def schema_digest(server: MariaDBServer, schema: str) -> dict[str, Digest | None]:
    """``table_digest`` of every base table of ``schema``, by name."""
    tables = [str(t) for (t,) in server.execute(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
        "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", (schema,))]
    return {t: table_digest(server, schema, t) for t in tables}


def wait_equal(source: MariaDBServer, target: MariaDBServer, schema: str,
               runners: tuple[Running, ...] = (), timeout: float = 90.0,
               target_schema: str | None = None, check: Callable[[], None] | None = None) -> None:
    """Wait until every table of ``schema`` has the same digest on the target (in
    ``target_schema``, default the same name); fail at once when a runner failed or ``check``
    (called every round) fails."""
    deadline = time.monotonic() + timeout
    want = got = None
    while time.monotonic() < deadline:
        for r in runners:
            assert not r.error, r.error
        if check is not None:
            check()
        try:
            want = schema_digest(source, schema)
            got = schema_digest(target, target_schema or schema)
        except pymysql.err.MySQLError as exc:
            # A DDL changed a table between reading its columns and digesting it.
            if exc.args[0] not in (ER_BAD_FIELD, ER_NO_SUCH_TABLE):
                raise
            continue
        if want == got:
            return
        time.sleep(0.2)
    raise AssertionError(f"target did not converge:\nsource={want}\ntarget={got}")
