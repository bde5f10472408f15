"""Placement and failover: which node runs each task, and when a task needs a new allocation.

``job_changed`` runs after the API commits a create, update, pause, resume or delete;
``tick`` runs every few seconds from Celery beat. Both are idempotent: they look at the store and
Redis and only act on what is missing, so running them twice or concurrently does no harm
(a task's lease makes sure only one allocation of it ever makes progress).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from dtleweb.celery import app
from jobs import events
from jobs.coordination import as_text, forget_job, get_redis, lease_key, publish_job_state, take_over_lease
from jobs.models import Allocation, DesiredState, Job, JobStatus, Node, Task, TaskStatus

logger = logging.getLogger(__name__)

# The Celery task that runs an allocation on a node (``jobs.tasks``), sent by name: the
# scheduler needs the message, not the worker's code.
RUN_TASK = "jobs.run_task"

# An allocation queued on a ready node that has not started after this long is placed again.
PENDING_GRACE = timedelta(seconds=60)


def job_changed(job_id: str) -> None:
    """React to a user action on a job: mirror its state to Redis and place what must run."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None:
        forget_job(job_id)
        return
    publish_job_state(job.job_id, job.desired_state, job.version)
    if not job.is_running_wanted:
        return
    # A user action (resume, update) gives failed tasks a fresh retry budget.
    job.clear_failure()
    for task in job.tasks.select_related("current_allocation__node"):
        _ensure_placed(task, job)


def tick() -> None:
    """Mark silent nodes down, then give every task of a running job a live allocation."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.NODE_DOWN_AFTER)
    lost = Node.objects.ready().filter(last_heartbeat__lt=cutoff)
    for node in lost:
        logger.warning("node %s missed its heartbeats; marking it down", node.node_id)
    lost.mark_down("missed heartbeats")
    jobs = Job.objects.filter(desired_state=DesiredState.RUNNING).exclude(status=JobStatus.FAILED)
    for job in jobs:
        publish_job_state(job.job_id, job.desired_state, job.version)
        for task in job.tasks.select_related("current_allocation__node"):
            if task.next_attempt_at is None or task.next_attempt_at <= now:
                _ensure_placed(task, job)


def _ensure_placed(task: Task, job: Job) -> None:
    current = task.current_allocation
    fence_old = False
    if current is not None and not current.is_dead:
        node_down = current.node is None or not current.node.is_ready
        if current.job_version != job.version and not node_down:
            pass  # an update: the old allocation stops itself; the new one waits for its lease
        elif not node_down and _is_live(current, job):
            return
        else:
            reason = (f"node {current.node_id} is down" if node_down
                      else "the task stopped renewing its lease")
            events.record(current.allocation_id, events.NODE_LOST, f"{reason}; placing it again")
            current.terminate()
            fence_old = node_down
    node = _choose_node(task, job)
    if node is not None:
        _place(task, job, node, fence_old)


def _is_live(allocation: Allocation, job: Job) -> bool:
    """Whether an allocation on a ready node is running the task, or soon will."""
    if allocation.is_pending:
        return timezone.now() - allocation.created_at < PENDING_GRACE
    holder = as_text(get_redis().get(lease_key(job.job_id, allocation.task.kind)))
    if holder is not None:
        return holder == str(allocation.allocation_id)
    # No lease: the process died. Give it one TTL of grace after it started, then move on.
    started = allocation.started_at or allocation.created_at
    return timezone.now() - started < timedelta(seconds=settings.LEASE_TTL)


def _config_node_id(task: Task, job: Job) -> str:
    side = job.config.get("src_task" if task.kind == "src" else "dest_task") or {}
    return str(side.get("node_id") or "")


def _choose_node(task: Task, job: Job) -> Node | None:
    """The pinned node (failover=false), else the preferred one if ready, else the least busy."""
    wanted = _config_node_id(task, job)
    ready = Node.objects.ready()
    if wanted:
        node = ready.filter(pk=wanted).first()
        if node is not None or not job.failover:
            if node is None:
                logger.info("job %s task %s waits for node %s", job.job_id, task.task_name, wanted)
            return node
    live = Q(allocations__status__in=[TaskStatus.PENDING, TaskStatus.RUNNING])
    candidates = ready.annotate(load=Count("allocations", filter=live)).order_by("load", "node_id")
    # Keep a job's two tasks apart when there is a choice: they compete for the same CPU.
    sibling = Task.objects.filter(job=job).exclude(pk=task.pk).values_list(
        "current_allocation__node_id", flat=True).first()
    nodes = list(candidates)
    apart = [n for n in nodes if n.node_id != sibling]
    choices = apart or nodes
    return choices[0] if choices else None


def _place(task: Task, job: Job, node: Node, fence_old: bool) -> None:
    with transaction.atomic():
        locked = Task.objects.select_for_update().get(pk=task.pk)
        if locked.current_allocation_id != task.current_allocation_id:
            return  # someone else placed it meanwhile
        allocation = locked.place(node, job.version)
        allocation_id = str(allocation.allocation_id)
        if fence_old:
            take_over_lease(job.job_id, task.kind, allocation_id)
        transaction.on_commit(
            lambda: app.send_task(RUN_TASK, args=[allocation_id], queue=node.queue)
        )
    logger.info("job %s task %s placed on node %s as allocation %s",
                job.job_id, task.task_name, node.node_id, allocation_id)
    Job.refresh_status(job.job_id)
