"""The job store: jobs, their two tasks, allocations of tasks on nodes, task events, nodes."""

from __future__ import annotations

import uuid

from django.db import models


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

    class Meta:
        ordering = ["node_id"]

    def __str__(self) -> str:
        return self.node_id


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
