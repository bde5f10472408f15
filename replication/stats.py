"""The per-allocation stats record that tasks publish and ``/v2/monitor/task`` reads.

A task keeps one ``TaskStats`` and updates it in place as it works; a ``StatsStore`` writes it
to Redis (at most once a second) under ``dtle:stats:<allocation_id>``. The record's JSON is the
``tasks_status`` object of the API document, so the API returns it unchanged.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

STAGE_FULL = "Copying rows from source tables"
STAGE_WAITING = "Master has sent all binlog to slave; waiting for more updates"
STAGE_READING = "Reading event from the relay log"  # the dest applying what it received
STAGE_SENDING = "Sending binlog event to slave"  # the src reading the binlog and sending it
STAGE_CONNECTING = "Connecting to master"
STATS_TTL_SECONDS = 7 * 24 * 3600


@dataclass
class Coordinates:
    file: str = ""
    position: int = 0
    gtid_set: str = ""
    relay_master_log_file: str = ""
    read_master_log_pos: int = 0
    retrieved_gtid_set: str = ""


@dataclass
class DelayCount:
    num: int = 0
    time: int = 0


@dataclass
class MessageStatus:
    in_messages: int = 0
    out_messages: int = 0
    in_bytes: int = 0
    out_bytes: int = 0
    reconnects: int = 0


@dataclass
class BufferStatus:
    binlog_event_queue_size: int = 0
    extractor_tx_queue_size: int = 0
    applier_tx_queue_size: int = 0
    send_by_timeout: int = 0
    send_by_size_full: int = 0


@dataclass
class TaskStats:
    """What one task reports about itself; field names are dtle's monitor fields."""

    current_coordinates: Coordinates = field(default_factory=Coordinates)
    delay_count: DelayCount = field(default_factory=DelayCount)
    exec_master_row_count: int = 0
    exec_master_tx_count: int = 0
    read_master_row_count: int = 0
    read_master_tx_count: int = 0
    backlog: str = "0/0"
    throughput_status: Any = None
    nats_message_status: MessageStatus = field(default_factory=MessageStatus)
    buffer_status: BufferStatus = field(default_factory=BufferStatus)
    stage: str = ""
    # Full-copy progress; ``progress()`` derives the dtle strings from these.
    copy_started_at: float = 0.0
    copy_rows_at_start: int = 0  # rows already done when this allocation started copying
    copy_done: bool = False
    last_event_ts: float = 0.0

    def start_copy(self, now: float | None = None) -> None:
        """Mark the start of copying in this allocation; the ETA is measured from here."""
        if not self.copy_started_at:
            self.copy_started_at = time.time() if now is None else now
            self.copy_rows_at_start = self.exec_master_row_count
        self.copy_done = False

    def set_delay_from(self, source_ts: float, now: float | None = None) -> None:
        """Record the source timestamp of the last event handled; delay is measured from it
        until the task says it caught up."""
        self.last_event_ts = source_ts
        now = time.time() if now is None else now
        self.delay_count.time = max(0, int(now - source_ts)) if source_ts else 0

    def set_caught_up(self, stage: str = STAGE_WAITING) -> None:
        """Nothing left to handle (the src waits for new binlog, the dest's backlog is empty):
        the delay is 0, not the time since the last event, however long the source is idle."""
        self.stage = stage
        self.last_event_ts = 0.0
        self.delay_count.time = 0

    def progress(self, now: float | None = None) -> tuple[str, str]:
        """Full-copy percent (``"%.1f"``) and ETA (``"N/A"`` under 1%, ``"0s"`` when done)."""
        if self.copy_done:
            return "100.0", "0s"
        total, done = self.read_master_row_count, self.exec_master_row_count
        if total <= 0:
            return "0.0", "N/A"
        pct = min(100.0, 100.0 * done / total)
        if pct < 1.0 or not self.copy_started_at:
            return f"{pct:.1f}", "N/A"
        now = time.time() if now is None else now
        elapsed = max(0.001, now - self.copy_started_at)
        copied_here = done - self.copy_rows_at_start
        if copied_here <= 0:
            return f"{pct:.1f}", "N/A"
        remaining = max(0, total - done) * elapsed / copied_here
        return f"{pct:.1f}", format_duration(remaining)

    def to_monitor(self, now: float | None = None) -> dict[str, Any]:
        """The ``tasks_status`` object of ``GET /v2/monitor/task``."""
        now = time.time() if now is None else now
        pct, eta = self.progress(now)
        if self.last_event_ts:
            self.delay_count.time = max(0, int(now - self.last_event_ts))
        return {
            "current_coordinates": asdict(self.current_coordinates),
            "delay_count": asdict(self.delay_count),
            "progress_PCT": pct,
            "exec_master_row_count": self.exec_master_row_count,
            "exec_master_tx_count": self.exec_master_tx_count,
            "read_master_row_count": self.read_master_row_count,
            "read_master_tx_count": self.read_master_tx_count,
            "ETA": eta,
            "backlog": self.backlog,
            "throughput_status": self.throughput_status,
            "nats_message_status": asdict(self.nats_message_status),
            "buffer_status": asdict(self.buffer_status),
            "stage": self.stage,
            "timestamp": int(now * 1e9),
        }


def format_duration(seconds: float) -> str:
    """Go-style short duration as dtle prints it: ``1h2m3s``, ``4m5s``, ``6s``."""
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def stats_key(allocation_id: str) -> str:
    return f"dtle:stats:{allocation_id}"


class StatsStore:
    """Reads and writes stats records in Redis, one key per allocation."""

    def __init__(self, client: redis.Redis, min_interval: float = 1.0) -> None:
        self._client = client
        self._min_interval = min_interval
        self._last_write: dict[str, float] = {}

    def due(self, allocation_id: str) -> bool:
        """Whether a ``publish`` now would write (the last write is ``min_interval`` old)."""
        return time.time() - self._last_write.get(allocation_id, 0.0) >= self._min_interval

    def publish(self, allocation_id: str, stats: TaskStats, force: bool = False) -> None:
        """Write the record unless it was written less than ``min_interval`` ago."""
        now = time.time()
        if not force and not self.due(allocation_id):
            return
        self._last_write[allocation_id] = now
        record = stats.to_monitor(now)
        self._client.set(stats_key(allocation_id), json.dumps(record), ex=STATS_TTL_SECONDS)

    def load(self, allocation_id: str) -> dict[str, Any] | None:
        raw = self._client.get(stats_key(allocation_id))
        return None if raw is None else json.loads(raw)

    def delete(self, *allocation_ids: str) -> None:
        if allocation_ids:
            self._client.delete(*(stats_key(a) for a in allocation_ids))
