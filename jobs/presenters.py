"""Shaping stored jobs, tasks and nodes as the API document's example answers.

Choices where the document's examples differ: the create answer echoes rules not given as
``null`` (``replicate_ignore_db``, ``table_schema_rename``) while the detail shows the stored
form (``[]``, ``""``); ``column_map_from`` is ``null`` when empty in both, as in the examples.
Times are RFC 3339 in UTC; an unset time is Go's zero time ``0001-01-01T00:00:00Z``.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from jobs.models import Allocation, Job, Node, Task
from jobs.secrets import masked_config

ZERO_TIME = "0001-01-01T00:00:00Z"


def go_time(value: datetime | None, fraction: bool = True) -> str:
    if value is None:
        return ZERO_TIME
    text = value.strftime("%Y-%m-%dT%H:%M:%S.%f" if fraction else "%Y-%m-%dT%H:%M:%S")
    return text + "Z"


def _present_rules(
    rules: list[dict[str, Any]] | None, echo: bool, null_when_empty: bool = False
) -> list[dict[str, Any]] | None:
    if null_when_empty and not rules:
        return None
    shown = copy.deepcopy(rules or [])
    for rule in shown:
        if echo and not rule.get("table_schema_rename"):
            rule["table_schema_rename"] = None
        for table in rule.get("tables", []):
            table["column_map_from"] = table.get("column_map_from") or None
    return shown


def present_config(config: dict[str, Any], echo: bool = False) -> dict[str, Any]:
    """A stored config with passwords masked; ``echo`` selects the create answer's form."""
    shown = masked_config(config)
    src = shown["src_task"]
    src["replicate_do_db"] = _present_rules(src.get("replicate_do_db"), echo)
    src["replicate_ignore_db"] = _present_rules(
        src.get("replicate_ignore_db"), echo, null_when_empty=echo)
    return shown


def create_answer(job: Job) -> dict[str, Any]:
    return {
        "job": present_config(job.config, echo=True),
        "eval_create_index": job.modify_index + 1,
        "job_modify_index": job.modify_index,
        "message": "ok",
    }


def job_summary(job: Job) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "job_name": job.job_name,
        "job_type": job.job_type,
        "job_status": job.status,
        "job_status_description": job.status_description,
    }


def _allocation(allocation: Allocation) -> dict[str, Any]:
    return {
        "node_id": allocation.node_id or "",
        "allocation_id": str(allocation.allocation_id),
        "task_status": {
            "task_events": [
                {"event_type": e.event_type, "setup_error": e.setup_error,
                 "message": e.message, "time": go_time(e.time, fraction=False)}
                for e in allocation.events.all()
            ],
            "started_at": go_time(allocation.started_at),
            "finished_at": go_time(allocation.finished_at),
            "status": allocation.status,
        },
    }


def _task_detail(task: Task | None, task_config: dict[str, Any]) -> dict[str, Any]:
    allocations = task.allocations.prefetch_related("events") if task else []
    return {"allocations": [_allocation(a) for a in allocations], "task_config": task_config}


def job_detail(job: Job) -> dict[str, Any]:
    config = present_config(job.config)
    tasks = {task.kind: task for task in job.tasks.all()}
    return {
        "job_id": job.job_id,
        "job_name": job.job_name,
        "job_type": job.job_type,
        "job_status": job.status,
        "failover": job.failover,
        "src_task_detail": _task_detail(tasks.get("src"), config["src_task"]),
        "dest_task_detail": _task_detail(tasks.get("dest"), config["dest_task"]),
        "message": "ok",
    }


def node_summary(node: Node) -> dict[str, Any]:
    return {
        "node_address": node.node_address,
        "node_name": node.node_name,
        "node_id": node.node_id,
        "node_status": node.status,
        "node_status_description": node.status_description,
        "datacenter": node.datacenter,
    }
