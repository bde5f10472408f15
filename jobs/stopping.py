"""The stop signal of a running task: why it must stop, checked cheaply between batches."""

from __future__ import annotations

import os
import time

import redis

from jobs import loglevel
from jobs.coordination import Lease, as_text, get_redis, job_state_key, node_stopping_key
from jobs.models import DesiredState


class StopReason:
    PAUSED = str(DesiredState.PAUSED)
    DELETED = str(DesiredState.DELETED)
    UPDATED = "updated"
    LEASE_LOST = "lease lost"
    NODE_STOPPING = "node shutting down"
    JOB_FAILED = "job failed"


class TaskStop:
    """Says whether a task must stop, and why. Redis is read at most every ``interval`` seconds."""

    def __init__(self, job_id: str, version: int, node_id: str, lease: Lease,
                 interval: float = 0.5) -> None:
        self.job_id = job_id
        self.version = version
        self.node_id = node_id
        self.lease = lease
        self.interval = interval
        self.reason: str | None = None
        self._checked_at = 0.0
        self._parent = os.getppid()

    def is_set(self) -> bool:
        if self.reason is not None:
            return True
        if self.lease.lost():
            self.reason = StopReason.LEASE_LOST
        elif os.getppid() != self._parent:
            # The worker process that forked this one is gone: behave as if the node died.
            self.reason = StopReason.NODE_STOPPING
        elif time.monotonic() - self._checked_at >= self.interval:
            self._checked_at = time.monotonic()
            self.reason = self._read_reason()
        return self.reason is not None

    def _read_reason(self) -> str | None:
        try:
            state, node_flag, level = get_redis().mget(
                job_state_key(self.job_id), node_stopping_key(self.node_id), loglevel.LOG_LEVEL_KEY
            )
        except redis.RedisError:
            return None
        loglevel.follow(level)
        if node_flag is not None:
            return StopReason.NODE_STOPPING
        if state is None:
            return StopReason.DELETED
        desired, _, version = (as_text(state) or "").partition(":")
        if desired == DesiredState.RUNNING:
            return None if version == str(self.version) else StopReason.UPDATED
        if desired == DesiredState.PAUSED:
            return StopReason.PAUSED
        if desired == DesiredState.DELETED:
            return StopReason.DELETED
        return StopReason.JOB_FAILED
