"""Helpers for the incremental and pipeline tests: build jobs, run runners, compare tables."""

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
from replication.stats import TaskStats
from replication.stop import ManualStop
from replication.task import TaskContext
from replication.wire.transport import RedisTransport
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


def table_summary(server: MariaDBServer, schema: str) -> dict[str, tuple[int, int]]:
    """(row count, CHECKSUM TABLE) of every table in ``schema``."""
    out = {}
    for (table,) in server.execute("SELECT TABLE_NAME FROM information_schema.TABLES "
                                   "WHERE TABLE_SCHEMA=%s ORDER BY TABLE_NAME", (schema,)):
        count = server.execute(f"SELECT COUNT(*) FROM `{schema}`.`{table}`")[0][0]
        checksum = server.execute(f"CHECKSUM TABLE `{schema}`.`{table}`")[0][1]
        out[table] = (int(count), int(checksum or 0))
    return out


def wait_converged(source: MariaDBServer, target: MariaDBServer, schema: str, timeout: float = 60.0,
                   runners: tuple[Running, ...] = (), target_schema: str | None = None) -> None:
    deadline = time.monotonic() + timeout
    want = got = None
    while time.monotonic() < deadline:
        for r in runners:
            assert not r.error, r.error
        want = table_summary(source, schema)
        got = table_summary(target, target_schema or schema)
        if want == got:
            return
        time.sleep(0.5)
    raise AssertionError(f"target did not converge: source={want} target={got}")
