"""Placement and failover decisions against the real store and a real Redis broker queue."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from jobs import coordination, scheduler
from jobs.models import Allocation, Job, Node, NodeStatus, Task, TaskStatus
from tests.support.redis_urls import REDIS_TEST_URL

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def test_redis(settings: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    settings.REDIS_URL = REDIS_TEST_URL
    settings.CELERY_BROKER_URL = REDIS_TEST_URL
    from dtleweb.celery import app

    app.conf.broker_url = REDIS_TEST_URL
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    yield client
    client.flushdb()


def _node(node_id: str, status: str = NodeStatus.READY, age: float = 0) -> Node:
    return Node.objects.create(node_id=node_id, node_name="host", queue=f"node.{node_id}", status=status,
                               last_heartbeat=timezone.now() - timedelta(seconds=age))


def _job(job_id: str = "j1-migration", failover: bool = True, src_node: str = "", dest_node: str = "") -> Job:
    config = {"src_task": {"node_id": src_node}, "dest_task": {"node_id": dest_node}}
    job = Job.objects.create(job_id=job_id, job_name="j1", job_type="migration", failover=failover,
                             config=config)
    Task.objects.create(job=job, task_name="src", kind="src")
    Task.objects.create(job=job, task_name="dest", kind="dest")
    return job


def _queued(client: redis.Redis, node_id: str) -> list[str]:
    """Allocation ids waiting in a node's Celery queue (Celery's message protocol 2)."""
    ids = []
    for raw in client.lrange(f"node.{node_id}", 0, -1):
        args, _kwargs, _embed = json.loads(base64.b64decode(json.loads(raw)["body"]))
        ids.append(args[0])
    return ids


def _alloc(job: Job, kind: str) -> Allocation:
    return Task.objects.get(job=job, kind=kind).current_allocation


def test_new_tasks_are_spread_over_ready_nodes_and_queued_there(test_redis: redis.Redis) -> None:
    _node("a"), _node("b"), _node("c", status=NodeStatus.DOWN)
    job = _job()
    scheduler.job_changed(job.job_id)
    src, dest = _alloc(job, "src"), _alloc(job, "dest")
    assert {src.node_id, dest.node_id} == {"a", "b"}
    assert _queued(test_redis, src.node_id) == [str(src.allocation_id)]
    assert _queued(test_redis, dest.node_id) == [str(dest.allocation_id)]
    assert coordination.read_job_state(job.job_id) == "running:1"


def test_a_pinned_task_waits_for_its_node_when_failover_is_off(test_redis: redis.Redis) -> None:
    _node("a")
    job = _job(failover=False, src_node="a", dest_node="b")
    scheduler.job_changed(job.job_id)
    assert _alloc(job, "src").node_id == "a"
    assert _alloc(job, "dest") is None
    _node("b")
    scheduler.tick()
    assert _alloc(job, "dest").node_id == "b"


def test_a_preferred_node_is_used_when_ready_and_skipped_when_down(test_redis: redis.Redis) -> None:
    _node("a"), _node("b"), _node("pref", status=NodeStatus.DOWN)
    job = _job(dest_node="pref")
    scheduler.job_changed(job.job_id)
    assert _alloc(job, "dest").node_id in {"a", "b"}
    job2 = _job("j2-migration", dest_node="b")
    scheduler.job_changed(job2.job_id)
    assert _alloc(job2, "dest").node_id == "b"


def test_tasks_on_a_silent_node_move_and_the_old_holder_is_fenced(test_redis: redis.Redis) -> None:
    _node("a"), _node("b")
    job = _job(failover=True)
    scheduler.job_changed(job.job_id)
    old = _alloc(job, "dest")
    Allocation.objects.filter(pk=old.pk).update(status=TaskStatus.RUNNING, started_at=timezone.now())
    lease = coordination.Lease(job.job_id, "dest", str(old.allocation_id))
    assert lease.try_acquire()
    Node.objects.filter(pk=old.node_id).update(
        last_heartbeat=timezone.now() - timedelta(seconds=settings.NODE_DOWN_AFTER + 1))
    scheduler.tick()
    new = _alloc(job, "dest")
    assert new.pk != old.pk and new.node_id != old.node_id
    assert Node.objects.get(pk=old.node_id).status == NodeStatus.DOWN
    assert Allocation.objects.get(pk=old.pk).status == TaskStatus.DEAD
    assert lease.holder() == str(new.allocation_id)
    assert not lease.try_acquire()  # the old allocation can no longer renew: it stops


def test_a_live_allocation_is_left_alone(test_redis: redis.Redis) -> None:
    _node("a"), _node("b")
    job = _job()
    scheduler.job_changed(job.job_id)
    first = {kind: _alloc(job, kind).pk for kind in ("src", "dest")}
    scheduler.tick()
    scheduler.job_changed(job.job_id)
    assert {kind: _alloc(job, kind).pk for kind in ("src", "dest")} == first
    assert Allocation.objects.count() == 2
