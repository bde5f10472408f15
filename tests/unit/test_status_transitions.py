"""Job, task and allocation statuses change only through the models' methods."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.utils import timezone

from jobs.models import (
    Allocation,
    DesiredState,
    Job,
    JobStatus,
    Node,
    NodeStatus,
    Task,
    TaskStatus,
)

ROOT = Path(__file__).resolve().parents[2]
STATUS_WORDS = {*JobStatus.values, *DesiredState.values, *TaskStatus.values, *NodeStatus.values}


def _job() -> Job:
    job = Job.objects.create(job_id="j-migration", job_name="j", job_type="migration", config={})
    for kind in ("src", "dest"):
        Task.objects.create(job=job, task_name=kind, kind=kind)
    return job


def _node() -> Node:
    return Node.objects.create(node_id="n1", node_name="h", queue="node.n1", last_heartbeat=timezone.now())


def _placed(job: Job, node: Node) -> list[Allocation]:
    return [task.place(node, job.version) for task in job.tasks.all()]


@pytest.mark.django_db
def test_a_job_runs_when_both_allocations_start_and_is_pending_when_one_ends() -> None:
    job, node = _job(), _node()
    src, dest = _placed(job, node)
    assert Task.objects.get(pk=src.task_id).status == TaskStatus.PENDING
    src.start()
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    dest.start()
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert Allocation.objects.get(pk=dest.pk).started_at is not None
    dest.terminate()
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
    assert Task.objects.get(pk=dest.task_id).status == TaskStatus.DEAD
    assert Allocation.objects.get(pk=dest.pk).status == TaskStatus.DEAD


@pytest.mark.django_db
def test_a_superseded_allocation_does_not_change_its_task() -> None:
    job, node = _job(), _node()
    task = job.tasks.get(kind="src")
    old = task.place(node, job.version)
    task.place(node, job.version)
    old.start()
    assert Task.objects.get(pk=task.pk).status == TaskStatus.PENDING
    assert Allocation.objects.get(pk=old.pk).status == TaskStatus.RUNNING


@pytest.mark.django_db
def test_pause_resume_fail_and_a_fresh_budget() -> None:
    job, node = _job(), _node()
    for allocation in _placed(job, node):
        allocation.start()
    job.pause()
    job.refresh_from_db()
    assert (job.desired_state, job.status) == (DesiredState.PAUSED, JobStatus.PAUSED)
    Job.refresh_status(job.job_id)  # tasks still running: a paused job stays paused
    job.refresh_from_db()
    assert job.status == JobStatus.PAUSED and job.needs_resume
    job.resume()
    job.refresh_from_db()
    assert (job.desired_state, job.status) == (DesiredState.RUNNING, JobStatus.PENDING)
    job.tasks.update(restarts=6)
    job.fail("task src failed 6 times: boom")
    Job.refresh_status(job.job_id)  # a failed job stays failed until a user acts
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.needs_resume
    job.clear_failure()
    job.refresh_from_db()
    assert (job.status, job.status_description) == (JobStatus.PENDING, "")
    assert set(job.tasks.values_list("restarts", flat=True)) == {0}


@pytest.mark.django_db
def test_a_new_version_makes_a_running_job_pending_but_leaves_a_paused_one() -> None:
    job = _job()
    job.status = JobStatus.RUNNING
    job.new_version(7)
    assert (job.version, job.modify_index, job.status) == (2, 7, JobStatus.PENDING)
    job.pause()
    job.new_version(8)
    assert job.status == JobStatus.PAUSED


@pytest.mark.django_db
def test_nodes_go_down_and_come_back_by_heartbeat() -> None:
    node = _node()
    Node.objects.filter(pk=node.pk).mark_down("missed heartbeats")
    assert not Node.objects.get(pk=node.pk).is_ready and not Node.objects.ready().exists()
    assert Node.objects.filter(pk=node.pk).beat() == 1
    assert Node.objects.get(pk=node.pk).is_ready
    assert Node.objects.filter(pk="absent").beat() == 0


def test_no_status_word_is_written_outside_the_enums() -> None:
    """Status values appear as literals only in the models (and the migrations that made them)."""
    found = []
    for path in sorted((ROOT / "jobs").rglob("*.py")):
        if "migrations" in path.parts or path.name == "models.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in STATUS_WORDS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert found == []
