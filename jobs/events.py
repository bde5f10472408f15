"""Task events with dtle's types and messages, and the status changes that go with them."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from jobs.models import Allocation, Job, JobStatus, Task, TaskEvent, TaskStatus

logger = logging.getLogger(__name__)

RECEIVED = ("Received", "Task received by client")
SETUP = ("Task Setup", "Building Task Directory")
STARTED = ("Started", "Task started by client")
KILLING = ("Killing", "Sent interrupt. Waiting 5s before force killing")
KILLED = ("Killed", "Task successfully killed")
TERMINATED = ("Terminated", "Exit Code: 0")
RESTARTING = "Restarting"
FAILURE = "Driver Failure"
NODE_LOST = "Node Lost"


def record(allocation_id: object, event_type: str, message: str = "", setup_error: str = "") -> None:
    """Append an event to an allocation; a deleted job's allocation is silently gone."""
    if Allocation.objects.filter(pk=allocation_id).exists():
        TaskEvent.objects.create(
            allocation_id=allocation_id, event_type=event_type, message=message,
            setup_error=setup_error,
        )


def refresh_job_status(job_id: str) -> None:
    """Derive the job's status from its desired state and its tasks."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in (JobStatus.FAILED, JobStatus.DEAD):
            return
        if job.desired_state == "paused":
            status = JobStatus.PAUSED
        elif all(t.status == TaskStatus.RUNNING for t in job.tasks.all()):
            status = JobStatus.RUNNING
        else:
            status = JobStatus.PENDING
        if status != job.status:
            job.status = status
            job.save(update_fields=["status", "updated_at"])


def mark_running(allocation: Allocation) -> None:
    now = timezone.now()
    Allocation.objects.filter(pk=allocation.pk).update(status=TaskStatus.RUNNING, started_at=now)
    Task.objects.filter(pk=allocation.task_id, current_allocation=allocation).update(
        status=TaskStatus.RUNNING
    )
    refresh_job_status(allocation.task.job_id)


def mark_finished(allocation: Allocation) -> None:
    Allocation.objects.filter(pk=allocation.pk).update(
        status=TaskStatus.DEAD, finished_at=timezone.now()
    )
    Task.objects.filter(pk=allocation.task_id, current_allocation=allocation).update(
        status=TaskStatus.DEAD
    )
    refresh_job_status(allocation.task.job_id)
