"""What the runtime hands a task's engine side, and the interface both sides implement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from replication.config import JobConfig
from replication.stats import TaskStats
from replication.stop import StopSignal
from replication.wire.transport import RedisTransport

# (event_type, message): "Driver"/"job_stage_full", "Driver"/"job_stage_incr", ...
EventSink = Callable[[str, str], None]


@dataclass
class TaskContext:
    """Everything one running task needs from outside the engine."""

    job: JobConfig
    transport: RedisTransport
    stats: TaskStats
    # Cheap to call after every batch: it writes at most once a second, and then also fills in
    # the transport's backlog and counters.
    publish_stats: Callable[[], None]
    event: EventSink
    stop: StopSignal
    # Who runs this task now (the allocation id); a newer owner fences older ones out.
    owner: str = ""


class TaskRunner(Protocol):
    """A task's engine side. ``run`` returns when ``stop`` is set (or raises ``Stopped``), and
    raises a ``ReplicationError`` on failure; every checkpoint is intact either way."""

    def __init__(self, ctx: TaskContext) -> None: ...

    def run(self) -> None: ...
