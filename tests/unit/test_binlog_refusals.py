"""Binlog events the reader does not decode stop the task with the reason and the position,
never pass silently: MySQL's compressed transaction payloads and partial JSON updates, MariaDB's
compressed events (constructed events; no MySQL server installs here)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pymysqlreplication.event import NotImplementedEvent
from pymysqlreplication.row_event import PartialUpdateRowsEvent

from replication.config import MySQLConnectionConfig
from replication.errors import SourceError
from replication.position import BinlogPosition
from replication.source.binlog import BinlogReader, _TxBuilder
from replication.stop import ManualStop


def _reader() -> BinlogReader:
    reader = BinlogReader(MySQLConnectionConfig("127.0.0.1", 1, "u", ""), 7,
                          BinlogPosition("binlog.000009", 4), False, ManualStop())
    reader.file = "binlog.000009"
    return reader


@pytest.mark.parametrize("event_type", [40, 165, 166, 169, 170, 171])
def test_a_compressed_event_stops_with_its_position(event_type: int) -> None:
    event = object.__new__(NotImplementedEvent)
    event.event_type = event_type
    event.packet = SimpleNamespace(log_pos=1234)
    with pytest.raises(SourceError, match=r"compressed binlog event at binlog.000009:1234.*OFF"):
        _TxBuilder(_reader()).feed(event)


def test_a_partial_json_update_of_a_replicated_table_stops_the_task() -> None:
    event = object.__new__(PartialUpdateRowsEvent)
    event.event_type = 39
    event.schema, event.table = "shop", "orders"
    event.packet = SimpleNamespace(log_pos=777)
    with pytest.raises(SourceError, match=r"partial JSON update of shop.orders at binlog.000009:777"):
        _reader().row_event(event)
