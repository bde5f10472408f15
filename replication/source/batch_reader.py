"""Reading many small tables of the full copy in one snapshot.

A table of a few hundred rows costs the source little to read, but its own connection, its own
snapshot, catalog queries and schema-history write cost more than its rows. ``BatchReader``
reads a batch of small, not yet started tables through one connection inside one consistent
snapshot: it first reads each table once (taking its metadata lock, so no DDL changes it until
the snapshot ends; a DDL that committed since the snapshot opened makes that read fail with
error 1412 and the snapshot is opened again), then describes all of them and records their
definitions at the snapshot's position in one go, then sends each table's messages exactly as
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
from replication.source.consistent import open_snapshot
from replication.source.schema import SchemaVersion, read_table_defs
from replication.source.table_reader import RecordSchema, Send, StopCheck, TableReader
from replication.source.tables import TableSpec, describe_tables

log = logging.getLogger(__name__)

ER_TABLE_DEF_CHANGED = 1412
ER_NO_SUCH_TABLE = 1146
# Snapshots opened for one batch before giving up on a source that alters it without pause.
SNAPSHOT_ATTEMPTS = 20
# Snapshots opened again while the source's binlog moved between the snapshot and the tables'
# metadata locks; a source that never pauses gets the last one.
QUIET_ATTEMPTS = 5


class BatchReader:
    """Reads ``specs`` (small tables, none started) in one snapshot of ``conn``."""

    def __init__(self, conn: Any, specs: list[TableSpec], sql_mode: str, chunk_size: int,
                 send: Send, stopped: StopCheck, job_rows: int = 0,
                 record_schema: RecordSchema | None = None) -> None:
        self._conn = conn
        self._specs = specs
        self._sql_mode = sql_mode
        self._chunk_size = chunk_size
        self._send = send
        self._stopped = stopped
        self._job_rows = job_rows
        self._record_schema = record_schema
        self.rows_read: dict[tuple[str, str], int] = {}

    def run(self) -> BinlogPosition:
        """Send every table's schema and chunks; the snapshot position they were read at."""
        position = self._open()
        specs = describe_tables(self._conn, [(s.mapping, s.rows_estimate) for s in self._specs])
        self._record(position)
        for spec in specs:
            if self._stopped():
                raise Stopped("stop requested during the full copy")
            reader = TableReader(self._conn, spec, TableCheckpoint(), self._sql_mode,
                                 self._chunk_size, self._send, self._stopped, self._job_rows)
            reader.read_rows(position)
            self.rows_read[(spec.mapping.source_schema, spec.mapping.source_table)] = reader.rows_read
        self._conn.rollback()
        return position

    def _open(self) -> BinlogPosition:
        # One statement reading every table of the batch, run right after the snapshot opens;
        # LIMIT 1: only a read that reaches the rows takes the snapshot's view of a table.
        first_read = " UNION ALL ".join(f"(SELECT 1 FROM {s.name} LIMIT 1)" for s in self._specs)
        for attempt in range(SNAPSHOT_ATTEMPTS):
            try:
                position = open_snapshot(self._conn, first_read)
                if attempt < QUIET_ATTEMPTS and self._moved_since(position):
                    # Something committed between the snapshot and the locks: maybe a DDL of
                    # one of these tables, which the snapshot would not show. Again.
                    self._conn.rollback()
                    continue
            except pymysql.err.MySQLError as exc:
                code = exc.args[0] if exc.args else 0
                if code == ER_NO_SUCH_TABLE:
                    raise SourceError(f"a table disappeared while its copy started: {exc.args[-1]}") from exc
                if code != ER_TABLE_DEF_CHANGED:
                    raise
                self._conn.rollback()
                log.info("a table changed after the snapshot of its batch opened; opening another")
                continue
            return position
        raise SourceError(f"tables of a batch ({self._specs[0].name}, ...) were altered each time "
                          f"their snapshot opened ({SNAPSHOT_ATTEMPTS} times); retry when the DDL "
                          "has finished")

    def _moved_since(self, position: BinlogPosition) -> bool:
        """True when the source's binlog has moved past the snapshot's position."""
        if not position.file:
            return False
        with self._conn.cursor() as cur:
            cur.execute("SHOW MASTER STATUS")
            row = cur.fetchone()
        if not row:
            return False
        file = row[0].decode() if isinstance(row[0], bytes) else str(row[0])
        return (file, int(row[1])) != (position.file, position.pos)

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
