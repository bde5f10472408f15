"""The src side of the incremental stage: binlog → filtered transactions → grouped messages.

A reader thread decodes the binlog into a bounded queue while the task's thread filters,
groups and sends, so decoding overlaps with the Redis round trips. Groups close when their
estimated size reaches ``group_max_size`` bytes or their oldest transaction waited
``group_timeout`` ms; ``buffer_status`` counts which.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from replication.position import BinlogPosition
from replication.scope.rows import RowFilter
from replication.source.binlog import BinlogReader
from replication.stats import STAGE_SENDING
from replication.task import TaskContext
from replication.wire.changes import IncrementalStart, RowEvent, Transaction, TransactionGroup

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
_END = object()


def estimate_size(tx: Transaction) -> int:
    """A cheap stand-in for the encoded size (encoding twice would cost more than it tells)."""
    size = 64
    for change in tx.changes:
        if isinstance(change, RowEvent):
            size += len(change.rows) * (len(change.columns) * 9 + 4) * (2 if change.kind == "update" else 1)
        else:
            size += len(change.statement)
    return size


class IncrementalSource:
    """Reads the binlog from ``start`` and sends transaction groups until stopped."""

    def __init__(self, ctx: TaskContext, reader: BinlogReader, row_filter: RowFilter,
                 announce: IncrementalStart | None) -> None:
        self._ctx = ctx
        self._reader = reader
        self._filter = row_filter
        self._announce = announce
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_SIZE)
        self._error: BaseException | None = None
        self._done = threading.Event()
        src = ctx.job.src_task
        self._max_size = max(1, src.group_max_size)
        self._timeout = max(1, src.group_timeout) / 1000.0
        self._pending: list[Transaction] = []
        self._pending_size = 0
        self._pending_since = 0.0
        self._last: Transaction | None = None
        self._next_refresh = 0.0
        # What the groups sent so far cover. Not the reader's set: it runs ahead of the sends,
        # and a restart from a set naming unsent transactions would lose them.
        self._sent = reader.seen.copy()

    def _read(self) -> None:
        try:
            for tx in self._reader.transactions():
                if self._done.is_set():
                    break
                item = tx if tx is None else self._filter.apply(tx)
                while not self._done.is_set():
                    try:
                        self._queue.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
        except BaseException as exc:  # noqa: BLE001 - re-raised on the task's thread
            self._error = exc
        finally:
            self._queue.put(_END)

    def run(self) -> None:
        ctx = self._ctx
        log.info("job %s: incremental from %s", ctx.job.job_id, self._reader.seen.position() or
                 f"{self._reader.file}:{self._reader.pos}")
        if self._announce is not None:
            ctx.transport.send(self._announce)
        thread = threading.Thread(target=self._read, name="binlog-reader", daemon=True)
        thread.start()
        try:
            self._loop()
        finally:
            self._done.set()
            thread.join(timeout=0.5)
            if thread.is_alive():
                # Busy decoding a large transaction: closing its connection ends the read.
                self._reader.close()
                thread.join(timeout=2)

    def _loop(self) -> None:
        ctx = self._ctx
        while not ctx.stop.is_set():
            wait = self._timeout if self._pending else 0.5
            if self._pending:
                wait = max(0.0, self._pending_since + self._timeout - time.monotonic())
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is _END:
                if self._error is not None:
                    raise self._error
                return
            if item is not None:
                self._add(item)
            elif not self._pending and self._queue.empty():
                ctx.stats.set_caught_up()  # everything read was sent; waiting for new binlog
            if self._pending and (self._pending_size >= self._max_size or
                                  time.monotonic() - self._pending_since >= self._timeout):
                self._send(by_size=self._pending_size >= self._max_size)
            self._publish()
        if self._pending:
            self._send(by_size=False)

    def _add(self, tx: Transaction) -> None:
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(tx)
        if tx.gtid:
            self._sent.add(tx.gtid)
        self._pending_size += estimate_size(tx)
        self._last = tx
        stats = self._ctx.stats
        stats.stage = STAGE_SENDING
        stats.read_master_tx_count += 1
        stats.set_delay_from(tx.timestamp)

    def _send(self, by_size: bool) -> None:
        last = self._pending[-1]
        end = BinlogPosition(last.file, last.pos, self._sent.format())
        self._ctx.transport.send(TransactionGroup(self._pending, end))
        buffers = self._ctx.stats.buffer_status
        if by_size:
            buffers.send_by_size_full += 1
        else:
            buffers.send_by_timeout += 1
        self._pending, self._pending_size = [], 0

    def _publish(self) -> None:
        stats = self._ctx.stats
        stats.buffer_status.binlog_event_queue_size = self._queue.qsize()
        stats.buffer_status.extractor_tx_queue_size = len(self._pending)
        if self._last is not None:
            coords = stats.current_coordinates
            coords.file, coords.position = self._last.file, self._last.pos
        now = time.monotonic()
        if now >= self._next_refresh:
            # Formatting the set costs: once a second is plenty for the monitor.
            self._next_refresh = now + 1.0
            stats.current_coordinates.gtid_set = self._sent.format()
        self._ctx.publish_stats()
