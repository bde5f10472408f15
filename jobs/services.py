"""Use cases of the control plane. Each owns its transaction and tells the scheduler after it.

Views validate input and call one function here; these functions change the job store and raise
``jobs.errors`` exceptions (404 unknown job, 409 conflicting state) that the handler shapes.
``scope`` is the tenant whose jobs the caller may see (None: every job); a job of another tenant
is answered exactly as a job that does not exist.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from django.db import transaction
from django.db.models import Max

from accounts.models import PLATFORM
from jobs import scheduler, secrets
from jobs.coordination import get_redis
from jobs.errors import BadRequest, Conflict, JobNotFound
from jobs.models import DesiredState, Job, JobType, Task
from replication.stats import StatsStore
from replication.wire.transport import RedisTransport

logger = logging.getLogger(__name__)

MAX_JOB_ID = 64
JOB_TYPES = tuple(JobType.values)


def _notify_scheduler(job_id: str) -> None:
    """After commit, let the scheduler place, stop or restart the job's tasks."""

    transaction.on_commit(lambda: scheduler.job_changed(job_id))


def stored_job_id(job_type: str, job_name: str, job_id: str = "") -> str:
    """dtle's id rule: ``<job_id>-<type>`` or ``<job_name>-<type>``, never doubled."""
    field, base = ("job_id", job_id) if job_id else ("job_name", job_name)
    if job_id:
        for other in JOB_TYPES:
            if other != job_type and job_id.endswith(f"-{other}"):
                raise BadRequest(
                    f"job_id: {job_id!r} is a {other} job id; use the /v2/job/{other} route")
    result = base if job_id.endswith(f"-{job_type}") else f"{base}-{job_type}"
    if len(result) > MAX_JOB_ID:
        raise BadRequest(
            f"{field}: the job id {result!r} is longer than {MAX_JOB_ID} characters")
    return result


def _next_index() -> int:
    """A raft-like index: grows with every create or update (two per change, job and eval)."""
    return (Job.objects.aggregate(top=Max("modify_index"))["top"] or 0) + 2


def _save_tasks(job: Job, config: dict[str, Any]) -> None:
    for kind in ("src", "dest"):
        Task.objects.update_or_create(
            job=job, kind=kind, defaults={"task_name": config[f"{kind}_task"]["task_name"]})


def create_or_update_job(job_type: str, data: dict[str, Any], tenant: str = PLATFORM,
                         scope: str | None = None) -> Job:
    """Store a validated config (plain passwords) as a new job of ``tenant``, or replace the
    config of an existing job that ``scope`` may change."""
    job_id = stored_job_id(job_type, data["job_name"], data["job_id"])
    config = secrets.seal_config({**data, "job_id": job_id})
    with transaction.atomic():
        index = _next_index()
        job = Job.objects.select_for_update().filter(job_id=job_id).first()
        if job is None:
            job = Job(job_id=job_id, job_type=job_type, create_index=index, version=0,
                      tenant=tenant)
        elif scope is not None and job.tenant != scope:
            # Ids are global; say no more than that this one is taken.
            raise Conflict(f"job id {job_id} is taken; choose another job_id or job_name")
        elif job.job_type != job_type:
            raise Conflict(f"job {job_id} is a {job.job_type} job, not a {job_type} job")
        elif job.is_deleting:
            raise Conflict(f"job {job_id} is being deleted")
        job.job_name = data["job_name"]
        job.failover = data["failover"]
        job.config = config
        job.new_version(index)
        job.save()
        _save_tasks(job, config)
        _notify_scheduler(job_id)
    logger.info("job %s stored (version %d)", job_id, job.version)
    return job


def visible_jobs(scope: str | None) -> Any:
    """The jobs a caller limited to tenant ``scope`` sees (None: all)."""
    jobs = Job.objects.all()
    return jobs if scope is None else jobs.filter(tenant=scope)


def get_job(job_id: str, job_type: str | None = None, scope: str | None = None) -> Job:
    """The job or 404; 409 when a type route names a job of another type."""
    job = visible_jobs(scope).filter(job_id=job_id).first()
    if job is None:
        raise JobNotFound(f"job {job_id} does not exist")
    if job_type and job.job_type != job_type:
        raise Conflict(f"job {job_id} is a {job.job_type} job, not a {job_type} job")
    return job


def pause_job(job_id: str, job_type: str | None = None, scope: str | None = None) -> Job:
    """Stop both tasks, keeping every checkpoint. Pausing a paused job is a no-op."""
    with transaction.atomic():
        job = get_job(job_id, job_type, scope)
        if job.is_deleting:
            raise Conflict(f"job {job_id} is being deleted")
        if job.desired_state != DesiredState.PAUSED:
            job.pause()
            _notify_scheduler(job_id)
            logger.info("job %s paused", job_id)
    return job


def resume_job(job_id: str, job_type: str | None = None, scope: str | None = None) -> Job:
    """Run the tasks again from their checkpoints. Resuming a running job is a no-op."""
    with transaction.atomic():
        job = get_job(job_id, job_type, scope)
        if job.is_deleting:
            raise Conflict(f"job {job_id} is being deleted")
        if job.needs_resume:
            job.resume()
            _notify_scheduler(job_id)
            logger.info("job %s resumed", job_id)
    return job


def delete_job(job_id: str, job_type: str | None = None, scope: str | None = None) -> None:
    """Remove the job, its tasks, allocations and events, its transport stream and stats."""
    with transaction.atomic():
        job = get_job(job_id, job_type, scope)
        allocation_ids = [
            str(a) for a in job.tasks.values_list("allocations__allocation_id", flat=True) if a
        ]
        job.delete()
        _notify_scheduler(job_id)
    _drop_runtime_state(job_id, allocation_ids)
    logger.info("job %s deleted", job_id)


def _drop_runtime_state(job_id: str, allocation_ids: list[str]) -> None:
    client = get_redis()
    try:
        RedisTransport(client, job_id).delete()
        StatsStore(client).delete(*allocation_ids)
    except redis.RedisError as exc:
        logger.warning("job %s deleted but its Redis state was not removed: %s", job_id, exc)


def list_jobs(filters: dict[str, Any], scope: str | None = None) -> list[Job]:
    """Jobs matching dtle's list filters (type, id prefix, status, src/dest host and port)."""
    jobs = visible_jobs(scope)
    if filters.get("filter_job_type"):
        jobs = jobs.filter(job_type=filters["filter_job_type"])
    if filters.get("filter_job_id"):
        jobs = jobs.filter(job_id__startswith=filters["filter_job_id"])
    if filters.get("filter_job_status"):
        jobs = jobs.filter(status=filters["filter_job_status"])
    return [job for job in jobs if _endpoint_matches(job, filters)]


def _endpoint_matches(job: Job, filters: dict[str, Any]) -> bool:
    for side, prefix in (("src_task", "filter_job_src"), ("dest_task", "filter_job_dest")):
        conn = job.config.get(side, {}).get("mysql_connection_config") or {}
        host, port = filters.get(f"{prefix}_ip"), filters.get(f"{prefix}_port")
        if host and conn.get("mysql_host") != host:
            return False
        if port and conn.get("mysql_port") != port:
            return False
    return True
