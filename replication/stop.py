"""Stop signals: what a task's loop checks between units of work."""

from __future__ import annotations

import threading
from typing import Protocol


class StopSignal(Protocol):
    def is_set(self) -> bool: ...


class ManualStop:
    """A stop signal set by code (tests, worker shutdown)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)
