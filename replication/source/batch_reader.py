"""Reading many small tables of the full copy in one snapshot.

A table of a few hundred rows costs the source little to read, but its own connection, its own
snapshot, catalog queries and schema-history write cost more than its rows. ``BatchReader``
reads a batch of small, not yet started tables through one connection inside one consistent
snapshot: it reads every table in the snapshot's first statement (taking their metadata locks,
so no DDL changes them until the snapshot ends), checks that no DDL slipped in before the locks
(error 1412, or a ``SHOW CREATE TABLE`` that differs from the one read before the snapshot
opened: then the snapshot is opened again), describes all of them and records their definitions
at the snapshot's position in one go, then sends each table's messages exactly as
``TableReader`` does. Every table of the batch has the batch's position. A table that turns out
larger than it looked is still paged by its key like any other.
"""

from __future__ import annotations

import logging
from typing import Any

import pymysql.err

from replication.errors import SourceError, Stopped
from replication.mysql import quote_table
from replication.position import BinlogPosition
from replication.resume import TableCheckpoint
from replication.source.consistent import open_snapshot, prepare_read_session
from replication.source.schema import SchemaVersion, read_table_defs
from replication.source.table_reader import (
    RecordSchema,
    Send,
    StopCheck,
    TableReader,
    comparable_create,
)
from replication.source.tables import TableSpec, describe_tables

log = logging.getLogger(__name__)

ER_TABLE_DEF_CHANGED = 1412
ER_NO_SUCH_TABLE = 1146
# Snapshots opened for one batch before giving up on a source that alters it without pause.
SNAPSHOT_ATTEMPTS = 20


class BatchReader:
    """Reads ``specs`` (small tables, none started) in one snapshot of ``conn``."""

    def __init__(self, conn: Any, specs: list[TableSpec], sql_mode: str, chunk_size: int,
                 send: Send, stopped: StopCheck, job_rows: int = 0,
                 record_schema: RecordSchema | None = None, typed: bool = False) -> None:
        self._conn = conn
        self._specs = specs
        self._sql_mode = sql_mode
        self._chunk_size = chunk_size
        self._send = send
        self._stopped = stopped
        self._job_rows = job_rows
        self._record_schema = record_schema
        self._typed = typed  # typed rows (a Kafka sink), as TableReader's
        self.rows_read: dict[tuple[str, str], int] = {}

    @property
    def specs(self) -> list[TableSpec]:
        """The batch's tables, as listed."""
        return self._specs

    def run(self) -> BinlogPosition:
        """Send every table's schema and chunks; the snapshot position they were read at."""
        position, specs = self._open()
        self._record(position)
        for spec in specs:
            if self._stopped():
                raise Stopped("stop requested during the full copy")
            reader = TableReader(self._conn, spec, TableCheckpoint(), self._sql_mode,
                                 self._chunk_size, self._send, self._stopped, self._job_rows,
                                 typed=self._typed)
            reader.read_rows(position)
            self.rows_read[(spec.mapping.source_schema, spec.mapping.source_table)] = reader.rows_read
        self._conn.rollback()
        return position

    def _open(self) -> tuple[BinlogPosition, list[TableSpec]]:
        """Open the batch's snapshot, take every table's metadata lock and describe the tables
        there. As for one table (``TableReader``), each table's ``SHOW CREATE TABLE`` is read
        before the snapshot opens and again after the locks: a DDL that committed in between,
        which the snapshot would not show, changes it, and the snapshot is opened again."""
        prepare_read_session(self._conn)  # SHOW CREATE's text depends on the session's mode
        # One statement reading every table of the batch, run right after the snapshot opens;
        # LIMIT 1: only a read that reaches the rows checks the table's version.
        first_read = " UNION ALL ".join(f"(SELECT 1 FROM {s.name} LIMIT 1)" for s in self._specs)
        for _ in range(SNAPSHOT_ATTEMPTS):
            before = [self._create_text(spec) for spec in self._specs]
            position = open_snapshot(self._conn)
            try:
                with self._conn.cursor() as cur:
                    cur.execute(first_read)
                    cur.fetchall()
            except pymysql.err.MySQLError as exc:
                code = exc.args[0] if exc.args else 0
                if code == ER_NO_SUCH_TABLE:
                    raise SourceError(f"a table disappeared while its copy started: {exc.args[-1]}") from exc
                if code != ER_TABLE_DEF_CHANGED:
                    raise
            else:
                specs = describe_tables(self._conn, [(s.mapping, s.rows_estimate) for s in self._specs])
                if [comparable_create(s.create_table_sql) for s in specs] == before:
                    return position, specs
            self._conn.rollback()
            log.info("a table changed while the snapshot of its batch opened; opening another")
        raise SourceError(f"tables of a batch ({self._specs[0].name}, ...) were altered each time "
                          f"their snapshot opened ({SNAPSHOT_ATTEMPTS} times); retry when the DDL "
                          "has finished")

    def _create_text(self, spec: TableSpec) -> str:
        with self._conn.cursor() as cur:
            try:
                cur.execute(f"SHOW CREATE TABLE {spec.name}")
            except pymysql.err.MySQLError as exc:
                if exc.args and exc.args[0] == ER_NO_SUCH_TABLE:
                    raise SourceError(f"{spec.name} disappeared before its copy started") from exc
                raise
            text = cur.fetchone()[1]
        return comparable_create(text.decode() if isinstance(text, bytes) else str(text))

    def _record(self, position: BinlogPosition) -> None:
        if self._record_schema is None:
            return
        keys = [(s.mapping.source_schema, s.mapping.source_table) for s in self._specs]
        definitions = read_table_defs(self._conn, keys)
        missing = [quote_table(*k) for k in keys if k not in definitions]
        if missing:
            raise SourceError(f"{missing[0]} disappeared while its copy started")
        self._record_schema([SchemaVersion(schema, table, position, definitions[(schema, table)],
                                           base=True) for schema, table in keys])
