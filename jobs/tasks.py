"""Celery tasks: thin wrappers that take ids and call the runtime.

Importing this module (Celery's autodiscovery does, in every worker) also connects the worker
signals of ``jobs.nodes``: registration, heartbeats, shutdown.
"""

from __future__ import annotations

from celery import shared_task
from django.db import close_old_connections

from jobs import nodes, scheduler
from jobs.runner import run_allocation


@shared_task(name=scheduler.RUN_TASK, ignore_result=True, acks_late=False)
def run_task(allocation_id: str) -> None:
    """Run one allocation of a task until it is stopped; safe to deliver twice."""
    close_old_connections()
    try:
        run_allocation(allocation_id, nodes.current_node_id())
    finally:
        close_old_connections()


@shared_task(name="jobs.scheduler_tick", ignore_result=True, expires=10)
def scheduler_tick() -> None:
    """Periodic placement and failover (Celery beat)."""
    close_old_connections()
    scheduler.tick()
