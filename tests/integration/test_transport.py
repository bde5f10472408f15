"""The Redis stream transport against a real Redis."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from replication.errors import Stopped
from replication.stop import ManualStop
from replication.wire.transport import Fence, FencedOut, RedisTransport


def test_messages_arrive_in_order_and_ack_removes_them(redis_client: redis.Redis, job_id: str) -> None:
    src = RedisTransport(redis_client, job_id, capacity=10)
    dest = RedisTransport(redis_client, job_id, capacity=10)
    for i in range(5):
        src.send({"n": i})
    entries = dest.receive(count=3)
    assert [e.message["n"] for e in entries] == [0, 1, 2]
    dest.ack(*(e.entry_id for e in entries))
    assert src.backlog() == 2
    assert src.last_message() == {"n": 4}
    assert [e.message["n"] for e in dest.receive()] == [3, 4]
    src.delete()


def test_send_waits_while_backlog_is_full_and_obeys_stop(redis_client: redis.Redis, job_id: str) -> None:
    stop = ManualStop()
    src = RedisTransport(redis_client, job_id, capacity=2, stop=stop)
    src.send(1)
    src.send(2)
    threading.Timer(0.3, stop.set).start()
    started = time.time()
    with pytest.raises(Stopped):
        src.send(3)
    assert time.time() - started >= 0.25
    assert src.backlog() == 2
    src.delete()


def test_send_refused_once_the_lease_belongs_to_another(redis_client: redis.Redis, job_id: str) -> None:
    lease = f"dtle:lease:{job_id}:src"
    redis_client.set(lease, "me")
    src = RedisTransport(redis_client, job_id, fence=Fence(lease, "me"))
    src.send("ok")
    redis_client.set(lease, "someone-else")
    with pytest.raises(FencedOut):
        src.send("late")
    assert src.backlog() == 1
    src.delete()
    redis_client.delete(lease)
