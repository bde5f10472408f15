"""The life of one allocation: take the lease, run the engine side, record how it ended.

``run_allocation`` is what the Celery task ``run_task`` calls. It owns the lifecycle (events,
statuses, lease, retry bookkeeping) around one call to the engine's runner, which owns the data.
It re-checks the world first, so a duplicate or stale delivery of the same allocation is harmless.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from jobs import events
from jobs.coordination import Lease, get_redis, publish_job_state
from jobs.models import Allocation, Job, JobStatus, Task
from jobs.secrets import engine_config
from jobs.stopping import StopReason, TaskStop
from replication.errors import ReplicationError, Stopped
from replication.stats import StatsStore, TaskStats
from replication.task import TaskContext
from replication.wire.transport import RedisTransport

logger = logging.getLogger(__name__)

MAX_RESTARTS = int(getattr(settings, "TASK_MAX_RESTARTS", 5))


def _runner_class(kind: str) -> type:
    from replication import runners  # imported late: the engine is heavy and optional in the API

    return runners.SrcRunner if kind == "src" else runners.DestRunner


def _claim(allocation: Allocation) -> Lease | None:
    """Wait for the task's lease (its previous allocation may still be stopping)."""
    job_id = allocation.task.job_id
    lease = Lease(job_id, allocation.task.kind, str(allocation.allocation_id))
    deadline = time.monotonic() + 2 * settings.LEASE_TTL + 2
    while time.monotonic() < deadline:
        if lease.try_acquire():
            return lease
        current = Task.objects.filter(pk=allocation.task_id).values_list(
            "current_allocation_id", flat=True).first()
        if current != allocation.allocation_id:
            return None
        time.sleep(0.5)
    return None


def run_allocation(allocation_id: str, node_id: str) -> None:
    allocation = Allocation.objects.select_related("task__job").filter(pk=allocation_id).first()
    if allocation is None or not allocation.is_pending:
        return
    task, job = allocation.task, allocation.task.job
    if task.current_allocation_id != allocation.allocation_id or not job.is_running_wanted:
        allocation.terminate()
        return
    events.record(allocation_id, *events.RECEIVED)
    lease = _claim(allocation)
    if lease is None:
        events.record(allocation_id, events.FAILURE, "another allocation holds the task's lease")
        allocation.terminate()
        return
    try:
        events.record(allocation_id, *events.SETUP)
        stop = TaskStop(job.job_id, allocation.job_version, node_id, lease)
        ctx = _context(job, task, allocation, lease, stop)
        lease.start_renewing()
        allocation.start()
        events.record(allocation_id, *events.STARTED)
        logger.info("job %s task %s: allocation %s started on %s",
                 job.job_id, task.task_name, allocation_id, node_id)
        _run_engine(ctx, job, task, allocation, stop)
    finally:
        lease.release()
        allocation.terminate()


def _context(job: Job, task: Task, allocation: Allocation, lease: Lease, stop: TaskStop) -> TaskContext:
    config = engine_config(job)
    capacity = config.src_task.repl_chan_buffer_size
    fence = lease.fence if task.kind == "src" else None
    transport = RedisTransport(get_redis(), job.job_id, capacity=capacity, stop=stop, fence=fence)
    stats = TaskStats()
    store = StatsStore(get_redis())
    allocation_id = str(allocation.allocation_id)

    def publish() -> None:
        # Called after every batch; the backlog costs a Redis round trip, so only when due.
        if store.due(allocation_id):
            stats.backlog = transport.backlog_text()
            stats.nats_message_status = transport.status
            store.publish(allocation_id, stats, force=True)

    def event(event_type: str, message: str) -> None:
        events.record(allocation_id, event_type, message)

    return TaskContext(job=config, transport=transport, stats=stats, publish_stats=publish,
                       event=event, stop=stop, owner=allocation_id)


def _run_engine(ctx: TaskContext, job: Job, task: Task, allocation: Allocation, stop: TaskStop) -> None:
    allocation_id = str(allocation.allocation_id)
    try:
        _runner_class(task.kind)(ctx).run()
    except Stopped as exc:
        # Stopped from inside the engine (fenced out by a newer allocation): say so.
        stop.reason = stop.reason or str(exc)
    except ReplicationError as exc:
        _failed(task, allocation_id, str(exc))
        return
    except Exception as exc:  # a bug or an unexpected driver error: record it, never hide it
        logger.exception("job %s task %s failed", job.job_id, task.task_name)
        _failed(task, allocation_id, f"{type(exc).__name__}: {exc}")
        return
    finally:
        ctx.publish_stats()
    if stop.reason == StopReason.DELETED:
        # A send may have landed between the API removing the stream and this task noticing;
        # remove it again so a job re-created under the same id starts clean.
        ctx.transport.delete()
        StatsStore(get_redis()).delete(allocation_id)
    if stop.reason in (StopReason.PAUSED, StopReason.DELETED):
        events.record(allocation_id, *events.KILLING)
        events.record(allocation_id, *events.KILLED)
    elif stop.reason == StopReason.UPDATED:
        events.record(allocation_id, events.RESTARTING, "Job updated; restarting from checkpoints")
    elif stop.reason is not None:
        events.record(allocation_id, events.RESTARTING, f"Task stopped: {stop.reason}")
    else:
        events.record(allocation_id, *events.TERMINATED)
    logger.info("job %s task %s: allocation %s stopped (%s)", job.job_id, task.task_name,
                allocation_id, stop.reason or "finished")


def backoff_seconds(restarts: int) -> float:
    return float(min(60, 2 ** max(0, restarts - 1)))


def _failed(task: Task, allocation_id: str, reason: str) -> None:
    """Count a failure; retry later with back-off, or give up and fail the job."""
    logger.warning("job %s task %s failed: %s", task.job_id, task.task_name, reason)
    events.record(allocation_id, events.FAILURE, reason, setup_error=reason)
    task.refresh_from_db()
    task.restarts += 1
    task.last_error = reason
    if task.restarts > MAX_RESTARTS:
        task.save(update_fields=["restarts", "last_error"])
        job = Job.objects.get(pk=task.job_id)
        job.fail(f"task {task.task_name} failed {task.restarts} times: {reason}")
        publish_job_state(job.job_id, JobStatus.FAILED, job.version)
        return
    delay = backoff_seconds(task.restarts)
    task.next_attempt_at = timezone.now() + timedelta(seconds=delay)
    task.save(update_fields=["restarts", "last_error", "next_attempt_at"])
    events.record(allocation_id, events.RESTARTING, f"Task restarting in {delay:.0f}s")
