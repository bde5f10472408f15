"""The job store: jobs, their two tasks, allocations of tasks on nodes, task events, nodes."""

from __future__ import annotations

import uuid

from django.db import models, transaction
from django.utils import timezone


class JobType(models.TextChoices):
    MIGRATION = "migration"
    SYNC = "sync"
    SUBSCRIPTION = "subscription"


class JobStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    FAILED = "failed"
    DEAD = "dead"


class DesiredState(models.TextChoices):
    RUNNING = "running"
    PAUSED = "paused"
    DELETED = "deleted"


class TaskStatus(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    DEAD = "dead"


class NodeStatus(models.TextChoices):
    READY = "ready"
    DOWN = "down"


class Job(models.Model):
    """A migration, sync or subscription job. ``config`` holds the validated job config JSON
    with every MySQL password encrypted (see ``jobs.secrets``)."""

    job_id = models.CharField(max_length=64, primary_key=True)
    job_name = models.CharField(max_length=64)
    job_type = models.CharField(max_length=16, choices=JobType.choices)
    failover = models.BooleanField(default=True)
    desired_state = models.CharField(
        max_length=16, choices=DesiredState.choices, default=DesiredState.RUNNING
    )
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    status_description = models.TextField(blank=True, default="")
    config = models.JSONField()
    # Who sees and changes the job: its tenant's users and the platform tenant's. A name, not a
    # foreign key: a job outlives its tenant's row (only platform then sees it), and jobs can be
    # stored before any tenant row exists.
    tenant = models.CharField(max_length=64, default="platform", db_index=True)
    # Bumped on every create/update; tasks compare it to notice an update and restart.
    version = models.PositiveIntegerField(default=1)
    create_index = models.PositiveIntegerField(default=0)
    modify_index = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["job_id"]

    def __str__(self) -> str:
        return self.job_id

    # Status transitions: the only places that write ``status`` and ``desired_state``.

    def new_version(self, modify_index: int) -> None:
        """A create or update (saved by the caller with the new config): tasks restart from
        their checkpoints, so a running job is pending again until both run."""
        self.version += 1
        self.modify_index = modify_index
        if self.desired_state == DesiredState.RUNNING:
            self.status = JobStatus.PENDING

    @property
    def is_running_wanted(self) -> bool:
        return self.desired_state == DesiredState.RUNNING

    @property
    def is_deleting(self) -> bool:
        return self.desired_state == DesiredState.DELETED

    @property
    def needs_resume(self) -> bool:
        """Whether ``resume`` has anything to do: not wanted running, or stopped for good."""
        return not self.is_running_wanted or self.status in (
            JobStatus.FAILED, JobStatus.DEAD, JobStatus.PAUSED)

    def pause(self) -> None:
        """Stop both tasks, keeping their checkpoints."""
        self.desired_state = DesiredState.PAUSED
        self.status = JobStatus.PAUSED
        self.save(update_fields=["desired_state", "status", "updated_at"])

    def resume(self) -> None:
        """Run again from the checkpoints, with a fresh failure budget (``clear_failure``)."""
        self.desired_state = DesiredState.RUNNING
        self.status = JobStatus.PENDING
        self.save(update_fields=["desired_state", "status", "updated_at"])

    def clear_failure(self) -> None:
        """A user action on a failed job: it is pending again and its tasks may retry."""
        self.tasks.update(restarts=0, next_attempt_at=None)
        if self.status == JobStatus.FAILED:
            self.status = JobStatus.PENDING
            self.status_description = ""
            self.save(update_fields=["status", "status_description", "updated_at"])

    def fail(self, reason: str) -> None:
        """Give up: a task failed more often than it may; only a user action starts it again."""
        self.status = JobStatus.FAILED
        self.status_description = reason
        self.save(update_fields=["status", "status_description", "updated_at"])

    @classmethod
    def refresh_status(cls, job_id: str) -> None:
        """Derive a job's status from its desired state and its tasks (failed and dead stay)."""
        with transaction.atomic():
            job = cls.objects.select_for_update().filter(pk=job_id).first()
            if job is None or job.status in (JobStatus.FAILED, JobStatus.DEAD):
                return
            if job.desired_state == DesiredState.PAUSED:
                status = JobStatus.PAUSED
            elif all(t.status == TaskStatus.RUNNING for t in job.tasks.all()):
                status = JobStatus.RUNNING
            else:
                status = JobStatus.PENDING
            if status != job.status:
                job.status = status
                job.save(update_fields=["status", "updated_at"])


class NodeQuerySet(models.QuerySet["Node"]):
    def ready(self) -> NodeQuerySet:
        return self.filter(status=NodeStatus.READY)

    def beat(self) -> int:
        """A heartbeat: the nodes are ready as of now. Returns how many rows exist."""
        return self.update(last_heartbeat=timezone.now(), status=NodeStatus.READY, status_description="")

    def mark_down(self, why: str) -> int:
        return self.update(status=NodeStatus.DOWN, status_description=why)


class Node(models.Model):
    """A Celery worker that runs tasks; it registers itself and heartbeats."""

    node_id = models.CharField(max_length=128, primary_key=True)
    node_name = models.CharField(max_length=255)
    node_address = models.CharField(max_length=255, blank=True, default="")
    datacenter = models.CharField(max_length=64, default="dc1")
    status = models.CharField(max_length=16, choices=NodeStatus.choices, default=NodeStatus.READY)
    status_description = models.TextField(blank=True, default="")
    version = models.CharField(max_length=64, blank=True, default="")
    queue = models.CharField(max_length=200)
    last_heartbeat = models.DateTimeField()
    registered_at = models.DateTimeField(auto_now_add=True)

    objects = NodeQuerySet.as_manager()

    class Meta:
        ordering = ["node_id"]

    def __str__(self) -> str:
        return self.node_id

    @property
    def is_ready(self) -> bool:
        return self.status == NodeStatus.READY


class Task(models.Model):
    """One side of a job (``src`` or ``dest``)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="tasks")
    task_name = models.CharField(max_length=64)
    kind = models.CharField(max_length=8)  # "src" or "dest": which side, whatever its name
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    current_allocation = models.ForeignKey(
        "Allocation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    restarts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["job_id", "kind"]
        constraints = [models.UniqueConstraint(fields=["job", "kind"], name="one_task_per_side")]

    def __str__(self) -> str:
        return f"{self.job_id}/{self.task_name}"

    def place(self, node: Node, job_version: int) -> Allocation:
        """A new allocation of this (locked) task on ``node``; the task is pending until it starts."""
        allocation = Allocation.objects.create(task=self, node=node, job_version=job_version)
        self.current_allocation = allocation
        self.status = TaskStatus.PENDING
        self.save(update_fields=["current_allocation", "status"])
        return allocation


class Allocation(models.Model):
    """One placement of a task on a node. A restart or failover makes a new one."""

    allocation_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="allocations")
    node = models.ForeignKey(Node, null=True, on_delete=models.SET_NULL, related_name="allocations")
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    job_version = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return str(self.allocation_id)

    @property
    def is_pending(self) -> bool:
        return self.status == TaskStatus.PENDING

    @property
    def is_dead(self) -> bool:
        return self.status == TaskStatus.DEAD

    def start(self) -> None:
        """The allocation runs; so does its task while this is the task's current allocation."""
        self._set(TaskStatus.RUNNING, started_at=timezone.now())

    def terminate(self) -> None:
        """The allocation is over (stopped, failed, superseded or lost); safe to call twice."""
        self._set(TaskStatus.DEAD, finished_at=timezone.now())

    def _set(self, status: str, **times: object) -> None:
        Allocation.objects.filter(pk=self.pk).update(status=status, **times)
        Task.objects.filter(pk=self.task_id, current_allocation=self).update(status=status)
        self.status = status
        for name, value in times.items():
            setattr(self, name, value)
        Job.refresh_status(self.task.job_id)


class TaskEvent(models.Model):
    """An event in an allocation's life, shown in the job detail as dtle shows it."""

    allocation = models.ForeignKey(Allocation, on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=64)
    setup_error = models.TextField(blank=True, default="")
    message = models.TextField(blank=True, default="")
    time = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["time", "id"]

    def __str__(self) -> str:
        return f"{self.event_type}: {self.message}"
