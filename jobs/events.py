"""Task events with dtle's types and messages (the status changes are the models' methods)."""

from __future__ import annotations

import logging
import uuid

from jobs.models import Allocation, TaskEvent

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


def record(allocation_id: str | uuid.UUID, event_type: str, message: str = "", setup_error: str = "") -> None:
    """Append an event to an allocation; a deleted job's allocation is silently gone."""
    if Allocation.objects.filter(pk=allocation_id).exists():
        TaskEvent.objects.create(
            allocation_id=allocation_id, event_type=event_type, message=message,
            setup_error=setup_error,
        )
