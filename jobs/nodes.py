"""Worker nodes: each Celery worker registers itself, consumes its own queue and heartbeats.

A node's id is the worker's Celery node name (``celery -A dtleweb worker -n NAME@%h``), or
``DTLE_NODE_ID`` when set, so several workers on one host are distinct nodes and a restarted
worker comes back as the same node.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from celery.signals import celeryd_after_setup, worker_ready, worker_shutting_down
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from jobs import loglevel, scheduler
from jobs.coordination import get_redis, node_stopping_key
from jobs.models import Node, NodeStatus

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL = 3.0
VERSION = "3.21.07-py"

_state: dict[str, Any] = {"node_id": None, "stop": threading.Event()}


def node_queue(node_id: str) -> str:
    return f"node.{node_id}"


def current_node_id() -> str:
    """The id of the node this process belongs to (set when the worker starts)."""
    return _state["node_id"] or settings.NODE_ID or socket.gethostname()


def _address() -> str:
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def register(node_id: str) -> Node:
    """Create or refresh the node's row and mark it ready."""
    node, _ = Node.objects.update_or_create(
        node_id=node_id,
        defaults={
            "node_name": socket.gethostname(), "node_address": _address(),
            "datacenter": settings.DATACENTER, "status": NodeStatus.READY,
            "status_description": "", "version": VERSION, "queue": node_queue(node_id),
            "last_heartbeat": timezone.now(),
        },
    )
    get_redis().delete(node_stopping_key(node_id))
    return node


def heartbeat(node_id: str) -> None:
    if not Node.objects.filter(pk=node_id).beat():
        register(node_id)


def _heartbeat_loop(node_id: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_INTERVAL):
        try:
            heartbeat(node_id)
            loglevel.follow(get_redis().get(loglevel.LOG_LEVEL_KEY))
        except Exception:  # the database may be briefly locked or away; try again next beat
            logger.warning("node %s: heartbeat failed", node_id, exc_info=True)
        finally:
            close_old_connections()


@celeryd_after_setup.connect
def _consume_own_queue(sender: str, instance: Any, **kwargs: Any) -> None:
    node_id = settings.NODE_ID or sender
    _state["node_id"] = node_id
    os.environ["DTLE_NODE_ID"] = node_id  # inherited by the pool's child processes
    instance.app.amqp.queues.select_add(node_queue(node_id))


@worker_ready.connect
def _register(sender: Any, **kwargs: Any) -> None:
    node_id = current_node_id()
    register(node_id)
    logger.info("node %s registered, consuming %s", node_id, node_queue(node_id))
    threading.Thread(target=_heartbeat_loop, args=(node_id, _state["stop"]),
                     name="dtle-heartbeat", daemon=True).start()
    scheduler.tick()


@worker_shutting_down.connect
def _shutting_down(sig: str, how: str, exitcode: int, **kwargs: Any) -> None:
    node_id = current_node_id()
    _state["stop"].set()
    # Running tasks see this flag between batches and stop with their checkpoints intact.
    get_redis().set(node_stopping_key(node_id), "1", ex=120)
    Node.objects.filter(pk=node_id).mark_down("stopped")
    logger.info("node %s shutting down (%s)", node_id, sig)
