"""Helpers for the incremental and pipeline tests: build jobs and run runners on threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from replication.config import (
    JobConfig,
    JobType,
    MySQLConnectionConfig,
    MySQLDestTaskConfig,
    SchemaRule,
    SrcTaskConfig,
)
from replication.stats import STAGE_SENDING, STAGE_WAITING, TaskStats
from replication.stop import ManualStop
from replication.task import TaskContext
from replication.wire.transport import RedisTransport
from scripts.cluster import wait_for
from scripts.mariadb_sandbox import MariaDBServer


def conn_cfg(server: MariaDBServer) -> MySQLConnectionConfig:
    return MySQLConnectionConfig("127.0.0.1", server.port, "root", "")


def make_job(job_id: str, source: MariaDBServer, target: MariaDBServer, schema: str | None = None,
             rules: tuple[SchemaRule, ...] | None = None, workers: int = 1, **src: Any) -> JobConfig:
    do_db = rules if rules is not None else ((SchemaRule(table_schema=schema),) if schema else ())
    return JobConfig(
        job_id=job_id, job_name=job_id, job_type=JobType.MIGRATION,
        src_task=SrcTaskConfig(mysql_connection_config=conn_cfg(source), replicate_do_db=do_db, **src),
        dest_task=MySQLDestTaskConfig(mysql_connection_config=conn_cfg(target), parallel_workers=workers),
    )


@dataclass
class Running:
    """A runner on a thread, with what it reported."""

    ctx: TaskContext
    thread: threading.Thread
    events: list[tuple[str, str]] = field(default_factory=list)
    error: list[BaseException] = field(default_factory=list)

    def stop(self, timeout: float = 10.0) -> float:
        started = time.monotonic()
        self.ctx.stop.set()  # type: ignore[attr-defined]
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "runner did not stop"
        return time.monotonic() - started


def start_runner(runner_cls: Callable[[TaskContext], Any], job: JobConfig,
                 client: redis.Redis, owner: str = "") -> Running:
    events: list[tuple[str, str]] = []
    transport = RedisTransport(client, job.job_id, job.src_task.repl_chan_buffer_size)
    ctx = TaskContext(job=job, transport=transport,
                      stats=TaskStats(), publish_stats=lambda: None,
                      event=lambda kind, msg: events.append((kind, msg)), stop=ManualStop(),
                      owner=owner)
    ctx.transport._stop = ctx.stop  # noqa: SLF001 - back-pressure waits must obey the stop
    running = Running(ctx, threading.Thread(daemon=True, target=lambda: None), events)

    def body() -> None:
        try:
            runner_cls(ctx).run()
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            running.error.append(exc)

    running.thread = threading.Thread(target=body, daemon=True)
    running.thread.start()
    return running


def wait_streaming(running: Running, timeout: float = 30.0) -> None:
    """Wait until the src reads the binlog: its start position is taken, so whatever is written
    from now on is replicated (an ``auto_gtid`` job starts from the position it finds)."""
    wait_for(lambda: running.error or running.ctx.stats.stage in (STAGE_WAITING, STAGE_SENDING),
             timeout, "the src to read the binlog")
    assert not running.error, running.error
