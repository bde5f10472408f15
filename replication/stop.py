"""Stop signals: what a task's loop checks between units of work."""

from __future__ import annotations

import threading
import time
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


class Throttled:
    """Asks ``inner`` at most every ``interval`` seconds, for loops that check per event (the
    runtime's signal looks at the lease and the parent process each time it is asked)."""

    def __init__(self, inner: StopSignal, interval: float = 0.05) -> None:
        self._inner = inner
        self._interval = interval
        self._next = 0.0
        self._set = False

    def is_set(self) -> bool:
        if not self._set:
            now = time.monotonic()
            if now >= self._next:
                self._next = now + self._interval
                self._set = self._inner.is_set()
        return self._set
