"""The transport between a job's src and dest: one Redis stream per job.

The src appends messages; the dest reads them in order, applies them, checkpoints in the target,
then acknowledges, which deletes what it applied. So the stream holds exactly what was sent and
not yet applied, and its length is the backlog the src waits on (``repl_chan_buffer_size``).
A send can be fenced: it only lands while the sender still holds its lease key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import redis

from replication.errors import Stopped
from replication.stats import MessageStatus
from replication.stop import StopSignal
from replication.wire import codec

# XADD only while the lease key still names this sender and the backlog is under capacity,
# atomically and in one round trip: false = fenced out, 0 = full (wait and retry), else the
# entry id and the backlog after it.
_FENCED_XADD = """
if ARGV[1] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return false
end
local queued = redis.call('XLEN', KEYS[1])
if queued >= tonumber(ARGV[3]) then
  return 0
end
return {redis.call('XADD', KEYS[1], '*', 'm', ARGV[2]), queued + 1}
"""


class FencedOut(Stopped):
    """The sender's lease is held by another allocation; it must stop at once."""


def stream_key(job_id: str) -> str:
    return f"dtle:stream:{job_id}"


@dataclass(frozen=True)
class Fence:
    """A lease key and the token this sender holds it with."""

    key: str
    token: str


@dataclass(frozen=True)
class Entry:
    entry_id: str
    message: Any
    size: int


class RedisTransport:
    """Sends and receives messages of one job over its Redis stream."""

    def __init__(
        self,
        client: redis.Redis,
        job_id: str,
        capacity: int = 32,
        stop: StopSignal | None = None,
        fence: Fence | None = None,
    ) -> None:
        self._client = client
        self._key = stream_key(job_id)
        self.capacity = max(1, capacity)
        self._stop = stop
        self._fence = fence
        self._cursor = "0"
        self._xadd = client.register_script(_FENCED_XADD)
        # The backlog after this sender's last append: an upper bound of the backlog now, as
        # only the dest removes entries (and only this sender adds them).
        self._known_backlog = self.capacity
        self.status = MessageStatus()

    # -- src side -------------------------------------------------------------------------
    def send(self, message: Any, poll_seconds: float = 0.05) -> str:
        """Append one message, first waiting while the backlog is at capacity (looking at the
        stream's length every ``poll_seconds``, without resending the message)."""
        self._check_stop()
        data = codec.encode(message)
        fence = self._fence
        keys = [self._key, fence.key if fence else self._key]
        args: list[str | bytes | int] = [fence.token if fence else "", data, self.capacity]
        while True:
            reply = self._xadd(keys=keys, args=args)
            if reply is None:
                raise FencedOut(f"lease {keys[1]} is held by another allocation")
            if reply != 0:
                break
            while True:
                self._check_stop()
                time.sleep(poll_seconds)
                if self.has_room():
                    break
        entry_id, self._known_backlog = reply[0], int(reply[1])
        self.status.out_messages += 1
        self.status.out_bytes += len(data)
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def has_room(self) -> bool:
        """Whether a send now would not wait for the dest (a Redis round trip only when the
        last append left the stream full)."""
        if self._known_backlog < self.capacity:
            return True
        self._known_backlog = self.backlog()
        return self._known_backlog < self.capacity

    def last_message(self) -> Any | None:
        """The newest message not yet applied, or None when the dest has applied everything."""
        rows: Any = self._client.xrevrange(self._key, count=1)
        return codec.decode(rows[0][1][b"m"]) if rows else None

    # -- dest side ------------------------------------------------------------------------
    def receive(self, count: int = 64, block_ms: int = 200) -> list[Entry]:
        """Up to ``count`` messages after the last one received, waiting up to ``block_ms``."""
        reply: Any = self._client.xread({self._key: self._cursor}, count=count, block=block_ms)
        if not reply:
            return []
        entries = []
        for raw_id, fields in reply[0][1]:
            data = fields[b"m"]
            entry_id = raw_id.decode()
            entries.append(Entry(entry_id, codec.decode(data), len(data)))
            self.status.in_messages += 1
            self.status.in_bytes += len(data)
        self._cursor = entries[-1].entry_id
        return entries

    def rewind(self) -> None:
        """Read again from the oldest message still in the stream (after a failed apply)."""
        self._cursor = "0"

    def ack(self, *entry_ids: str) -> None:
        """Delete applied messages; call only after their effects are checkpointed."""
        if entry_ids:
            self._client.xdel(self._key, *entry_ids)

    # -- both -----------------------------------------------------------------------------
    def backlog(self) -> int:
        return int(self._client.xlen(self._key))

    def backlog_text(self) -> str:
        """The monitor's ``backlog`` field: ``queued/capacity``."""
        return f"{self.backlog()}/{self.capacity}"

    def delete(self) -> None:
        """Remove the stream (job deleted)."""
        self._client.delete(self._key)

    def _check_stop(self) -> None:
        if self._stop is not None and self._stop.is_set():
            raise Stopped("stop requested")
