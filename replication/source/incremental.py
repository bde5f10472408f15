"""The src side of the incremental stage: binlog → filtered transactions → grouped messages.

A reader thread decodes the binlog into a bounded buffer while the task's thread filters,
groups and sends, so decoding overlaps with the Redis round trips. A message carries every
transaction the reader has ready when it is sent, never waiting for more than
``group_timeout`` ms: with ``group_max_size`` = 1 (the default) it goes as soon as the buffer is
empty, so one Redis round trip carries whatever queued up while the previous one was on the
wire. Larger ``group_max_size`` values hold a group until that many (estimated) bytes or the
timeout; ``buffer_status`` counts which. While the stream is at ``repl_chan_buffer_size`` the
group keeps growing, up to ``MESSAGE_BYTES``, instead of waiting with a full message in hand.

Memory is bounded whatever the backlog: the reader's buffer by ``BUFFER_BYTES`` (and
``BUFFER_ITEMS``), a message by ``MESSAGE_BYTES`` (a single larger transaction travels
alone), and the stream by ``repl_chan_buffer_size`` messages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from replication.position import BinlogPosition
from replication.scope.rows import RowFilter
from replication.source.binlog import BinlogReader
from replication.stats import STAGE_SENDING
from replication.task import TaskContext
from replication.wire.changes import IncrementalStart, Transaction, TransactionGroup, estimate_size

log = logging.getLogger(__name__)

BUFFER_ITEMS = 4096
BUFFER_BYTES = 4 << 20  # estimated bytes of decoded transactions the reader may run ahead
MESSAGE_BYTES = 512 << 10  # estimated bytes of one message, unless group_max_size is larger
FULL_POLL = 0.01  # seconds between looks at a full stream
_END = object()


class _Buffer:
    """The reader's hand-off: at most ``BUFFER_ITEMS`` items and ``BUFFER_BYTES`` estimated
    bytes, but always room for one item however large (a transaction is never split)."""

    def __init__(self) -> None:
        self._items: deque[tuple[Any, int]] = deque()
        self._bytes = 0
        self._cond = threading.Condition()

    def put(self, item: Any, size: int, timeout: float) -> bool:
        with self._cond:
            full = lambda: self._items and (  # noqa: E731
                len(self._items) >= BUFFER_ITEMS or self._bytes + size > BUFFER_BYTES)
            if full() and not self._cond.wait_for(lambda: not full(), timeout):
                return False
            self._items.append((item, size))
            self._bytes += size
            self._cond.notify_all()
            return True

    def get(self, timeout: float) -> tuple[Any, int] | None:
        """The oldest item, waiting up to ``timeout`` seconds (0: not at all); None if none."""
        with self._cond:
            if not self._items and (timeout <= 0 or not self._cond.wait_for(lambda: self._items, timeout)):
                return None
            item, size = self._items.popleft()
            self._bytes -= size
            self._cond.notify_all()
            return item, size

    def __len__(self) -> int:
        return len(self._items)


class IncrementalSource:
    """Reads the binlog from ``start`` and sends transaction groups until stopped."""

    def __init__(self, ctx: TaskContext, reader: BinlogReader, row_filter: RowFilter,
                 announce: IncrementalStart | None) -> None:
        self._ctx = ctx
        self._reader = reader
        self._filter = row_filter
        self._announce = announce
        self._buffer = _Buffer()
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._ended = False
        src = ctx.job.src_task
        self._max_size = max(1, src.group_max_size)
        self._message_bytes = max(MESSAGE_BYTES, self._max_size)
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
                size = 0 if item is None else estimate_size(item)
                while not self._done.is_set() and not self._buffer.put(item, size, 0.2):
                    continue
        except BaseException as exc:  # noqa: BLE001 - re-raised on the task's thread
            self._error = exc
        finally:
            while not self._buffer.put(_END, 0, 0.2) and not self._done.is_set():
                continue

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
        while not ctx.stop.is_set() and not self._ended:
            got = self._buffer.get(self._wait())
            if got is not None:
                self._take(got)
                self._collect()
            elif not self._pending and not len(self._buffer):
                ctx.stats.set_caught_up()  # everything read was sent; waiting for new binlog
            if self._pending and self._due() and (
                    self._pending_size >= self._message_bytes or ctx.transport.has_room()):
                self._send(by_size=self._pending_size >= self._max_size)
            self._publish()
        if self._pending:
            self._send(by_size=False)
        if self._error is not None:
            raise self._error

    def _wait(self) -> float:
        """How long the next read may block: until the group is due, or a full stream's next look."""
        if not self._pending:
            return 0.5
        if self._due():
            return FULL_POLL  # due, but the stream was full
        return max(0.0, self._pending_since + self._timeout - time.monotonic())

    def _due(self) -> bool:
        return (self._pending_size >= self._max_size
                or time.monotonic() - self._pending_since >= self._timeout)

    def _collect(self) -> None:
        """Add what the reader already has, up to one message's worth."""
        while not self._ended and self._pending_size < self._message_bytes:
            got = self._buffer.get(0)
            if got is None:
                return
            self._take(got)

    def _take(self, got: tuple[Any, int]) -> None:
        item, size = got
        if item is _END:
            self._ended = True
        elif item is not None:
            self._add(item, size)

    def _add(self, tx: Transaction, size: int) -> None:
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(tx)
        if tx.gtid:
            self._sent.add(tx.gtid)
        self._pending_size += size
        self._last = tx
        stats = self._ctx.stats
        stats.stage = STAGE_SENDING
        stats.read_master_tx_count += 1
        stats.set_delay_from(tx.timestamp)

    def _send(self, by_size: bool) -> None:
        last = self._pending[-1]
        end = BinlogPosition(last.file, last.pos, self._sent.format())
        self._ctx.transport.send(TransactionGroup(self._pending, end), poll_seconds=FULL_POLL)
        buffers = self._ctx.stats.buffer_status
        if by_size:
            buffers.send_by_size_full += 1
        else:
            buffers.send_by_timeout += 1
        self._pending, self._pending_size = [], 0

    def _publish(self) -> None:
        stats = self._ctx.stats
        stats.buffer_status.binlog_event_queue_size = len(self._buffer)
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
