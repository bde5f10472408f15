"""Shared state in Redis that running tasks watch: leases, a job's wanted state, node stop flags.

The database is the record; Redis is what a task polls between batches, because that must be
cheap. ``publish_job_state`` mirrors a job's desired state and version into Redis whenever it
changes; a task stops when the mirror no longer says ``running`` at the version it started with.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import redis
from django.conf import settings

from replication.wire.transport import Fence

# Take or renew the lease only if it is free or already ours.
_ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def get_redis() -> redis.Redis:
    """The process's Redis client for ``settings.REDIS_URL`` (connection-pooled, thread-safe)."""
    return _client_for(settings.REDIS_URL)


@lru_cache(maxsize=4)
def _client_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, health_check_interval=30)


def as_text(raw: object) -> str | None:
    """A Redis reply as text (the client returns bytes)."""
    if raw is None:
        return None
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def lease_key(job_id: str, kind: str) -> str:
    return f"dtle:lease:{job_id}:{kind}"


def job_state_key(job_id: str) -> str:
    return f"dtle:jobstate:{job_id}"


def node_stopping_key(node_id: str) -> str:
    return f"dtle:node:{node_id}:stopping"


def publish_job_state(job_id: str, desired_state: str, version: int) -> None:
    get_redis().set(job_state_key(job_id), f"{desired_state}:{version}")


def read_job_state(job_id: str) -> str | None:
    return as_text(get_redis().get(job_state_key(job_id)))


def forget_job(job_id: str) -> None:
    client = get_redis()
    client.delete(job_state_key(job_id), lease_key(job_id, "src"), lease_key(job_id, "dest"))


class Lease:
    """A task's exclusive hold on running one side of a job, renewed by a background thread.

    The lease holder's token is its allocation id. Whoever takes the lease over (the scheduler,
    moving the task off a node it believes lost) makes the old holder's renewals fail, and the
    transport refuses the old holder's sends, so two allocations never both make progress.
    """

    def __init__(self, job_id: str, kind: str, token: str, ttl: float | None = None) -> None:
        self.key = lease_key(job_id, kind)
        self.token = token
        self.ttl_ms = int((ttl or settings.LEASE_TTL) * 1000)
        self._client = get_redis()
        self._acquire = self._client.register_script(_ACQUIRE)
        self._release = self._client.register_script(_RELEASE)
        self._lost = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def fence(self) -> Fence:
        return Fence(self.key, self.token)

    def try_acquire(self) -> bool:
        return bool(self._acquire(keys=[self.key], args=[self.token, self.ttl_ms]))

    def holder(self) -> str | None:
        return as_text(self._client.get(self.key))

    def start_renewing(self) -> None:
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease {self.key}", daemon=True)
        self._thread.start()

    def _renew_loop(self) -> None:
        interval = self.ttl_ms / 3000
        while not self._done.wait(interval):
            try:
                if not self.try_acquire():
                    self._lost.set()
                    return
            except redis.RedisError:
                # Keep trying: the lease only lapses when the TTL runs out.
                continue

    def lost(self) -> bool:
        return self._lost.is_set()

    def release(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        try:
            self._release(keys=[self.key], args=[self.token])
        except redis.RedisError:
            pass


def take_over_lease(job_id: str, kind: str, token: str) -> None:
    """Hand a task's lease to a new allocation, fencing out the old one wherever it runs."""
    get_redis().set(lease_key(job_id, kind), token, px=int(settings.LEASE_TTL * 1000))
