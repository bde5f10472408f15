"""The interface between the dest runner and a sink (a MySQL target, Kafka).

The runner receives transport entries in order and hands each to ``submit``; the sink applies or
publishes it, commits its own checkpoint with it, and only then acknowledges the entry through
the ``ack`` callable it was built with, which deletes it from the transport. So an entry leaves
the transport exactly when its effect is durable in the sink, whatever the sink's batching.
"""

from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    """Where a dest task writes; built from a ``TaskContext`` and an ``ack(*entry_ids)``."""

    def open(self) -> None:
        """Take ownership of the target and load the checkpoints (before the first submit)."""
        ...

    def submit(self, entry_id: str, message: Any) -> None:
        """Apply or queue one transport message; may block while the sink is saturated."""
        ...

    def maintain(self, force: bool = False) -> None:
        """Acknowledge what became durable, fold checkpoints, update stats; raise a failure
        of background work. Called after every receive; ``force`` before stopping."""
        ...

    @property
    def idle(self) -> bool:
        """Everything submitted is durable."""
        ...

    @property
    def pending(self) -> int:
        """Entries submitted and not yet acknowledged (the monitor's applier queue)."""
        ...

    def drain(self, timeout: float) -> bool:
        """Wait until everything submitted is durable; False on timeout."""
        ...

    def close(self) -> None:
        ...
