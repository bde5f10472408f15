"""A place in the source's binlog: file and offset, and the executed GTID set at that point."""

from __future__ import annotations

from dataclasses import dataclass

from replication.wire import codec


@codec.message("position")
@dataclass(frozen=True)
class BinlogPosition:
    """Where reading starts or stopped. ``gtid_set`` is MySQL's executed set
    (``uuid:1-5,uuid2:1-3``) or MariaDB's GTID position (``0-101-42,1-101-7``)."""

    file: str = ""
    pos: int = 0
    gtid_set: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.pos} gtid={self.gtid_set!r}"
