"""Read-only use cases: task stats, a job's applied GTID set, validation, MySQL inspection,
and the process log level."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pymysql

from jobs import loglevel, secrets
from jobs.coordination import get_redis
from jobs.errors import BadRequest, JobNotFound, NotFound
from jobs.models import Allocation, Job
from jobs.services import get_job
from replication import catalog
from replication.config import MySQLConnectionConfig, SrcTaskConfig
from replication.errors import ConfigError, ReplicationError
from replication.mysql import connect
from replication.sinks.mysql.checkpoint import load_checkpoint
from replication.stats import StatsStore, TaskStats
from replication.validation import validate_mysql_task

logger = logging.getLogger(__name__)



def _allocation(allocation_id: str, scope: str | None) -> Allocation:
    try:
        key = uuid.UUID(allocation_id)
    except ValueError as exc:
        raise BadRequest(f"allocation_id: {allocation_id!r} is not an allocation id") from exc
    allocations = Allocation.objects.select_related("task").filter(allocation_id=key)
    if scope is not None:
        allocations = allocations.filter(task__job__tenant=scope)
    allocation = allocations.first()
    if allocation is None:
        raise JobNotFound(f"allocation {allocation_id} does not exist")
    return allocation


def monitor_task(allocation_id: str, task_name: str = "", scope: str | None = None) -> dict[str, Any]:
    """The allocation's stats record (zero values until its task first reports)."""
    allocation = _allocation(allocation_id, scope)
    if task_name and allocation.task.task_name != task_name:
        raise JobNotFound(
            f"allocation {allocation_id} belongs to task {allocation.task.task_name!r}, "
            f"not {task_name!r}")
    record = StatsStore(get_redis()).load(str(allocation.allocation_id))
    return record if record is not None else TaskStats().to_monitor()


def job_gtid(job_id: str, scope: str | None = None) -> str:
    """The executed GTID set the job has applied.

    For a MySQL target this is the checkpoint in the target (``dtle.binlog_checkpoint``, what
    really committed there). Without one (Kafka target, nothing applied yet, target unreachable)
    it is the gtid_set of the tasks' last published coordinates, dest first, then src.
    """
    job: Job = get_job(job_id, scope=scope)
    dest_conn = job.config.get("dest_task", {}).get("mysql_connection_config")
    if dest_conn is not None:
        gtid = _checkpoint_gtid(job, secrets.plain_config(job.config))
        if gtid is not None:
            return gtid
    return _stats_gtid(job)


def _checkpoint_gtid(job: Job, config: dict[str, Any]) -> str | None:
    cfg = MySQLConnectionConfig(**config["dest_task"]["mysql_connection_config"])
    try:
        checkpoint = load_checkpoint(lambda: connect(cfg), job.job_id)
    except (ReplicationError, pymysql.err.MySQLError) as exc:
        logger.warning("job %s: cannot read the checkpoint on the target: %s", job.job_id, exc)
        return None
    return None if checkpoint is None else str(checkpoint.executed)


def _stats_gtid(job: Job) -> str:
    store = StatsStore(get_redis())
    for kind in ("dest", "src"):
        task = job.tasks.filter(kind=kind).first()
        allocations = task.allocations.order_by("-created_at") if task else []
        for allocation in allocations:
            record = store.load(str(allocation.allocation_id))
            gtid = (record or {}).get("current_coordinates", {}).get("gtid_set", "")
            if gtid:
                return str(gtid)
    return ""


def validate_job(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-task reports for a validated config (plain passwords)."""
    reports = []
    for side in ("src_task", "dest_task"):
        task = config[side]
        conn = task.get("mysql_connection_config")
        if conn is not None:
            cfg = MySQLConnectionConfig(**conn)
            start = None
            if side == "src_task":
                start = SrcTaskConfig(cfg, gtid=task.get("gtid", ""),
                                      binlog_file=task.get("binlog_file", ""),
                                      binlog_pos=int(task.get("binlog_pos") or 0))
            reports.append(validate_mysql_task(task["task_name"], cfg, src=side == "src_task",
                                               src_task=start))
    return reports


def mysql_schemas(cfg: MySQLConnectionConfig) -> list[dict[str, Any]]:
    return catalog.list_schemas(cfg)


def mysql_columns(cfg: MySQLConnectionConfig, schema: str, table: str) -> list[str]:
    try:
        return catalog.list_columns(cfg, schema, table)
    except ConfigError as exc:  # the only one it raises: no such table
        raise NotFound(str(exc)) from exc
    except UnicodeEncodeError as exc:
        raise BadRequest(f"mysql_schema, mysql_table: cannot be written in character set "
                         f"{cfg.mysql_character_set}") from exc


def mysql_connection(cfg: MySQLConnectionConfig) -> None:
    catalog.check_connection(cfg)


def set_log_level(level: str) -> str:
    """Change the project's loggers at once, here and in every worker and task."""
    name = level.upper()
    if name not in loglevel.LOG_LEVELS:
        raise BadRequest(
            f"dtle_log_level: {level!r} is not one of {', '.join(loglevel.LOG_LEVELS)}")
    loglevel.publish(name)
    logger.info("log level set to %s", name)
    return name
