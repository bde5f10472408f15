"""Helpers for the full-copy tests: a job config and an in-process copy."""

from __future__ import annotations

import threading
from typing import Any

import redis

from replication.config import JobConfig, SchemaRule
from replication.mysql import connect
from replication.position import BinlogPosition
from replication.sinks.mysql.snapshot import SnapshotApplier
from replication.sinks.mysql.snapshot_checkpoint import load_snapshot_resume
from replication.sinks.mysql.snapshot_pool import DEFAULT_WORKERS, SnapshotPool
from replication.source.snapshot import SnapshotReader
from replication.stats import TaskStats
from replication.stop import ManualStop
from replication.wire.snapshot import SnapshotDone
from replication.wire.transport import RedisTransport
from scripts.mariadb_sandbox import MariaDBServer
from tests.support import incremental as incremental_helpers


def make_job(job_id: str, source: MariaDBServer, target: MariaDBServer,
             do_db: tuple[SchemaRule, ...] = (), **src: Any) -> JobConfig:
    """A migration job over the whole instance, or the schemas of ``do_db``."""
    return incremental_helpers.make_job(job_id, source, target, rules=do_db, **src)


def run_copy(job: JobConfig, client: redis.Redis, workers: int = 2, capacity: int = 8,
             timeout: float = 120.0,
             apply_workers: int = DEFAULT_WORKERS) -> tuple[BinlogPosition, SnapshotApplier]:
    """Reader in a thread; receiving here, applying on the dest's parallel path (a pool whose
    workers acknowledge), until SnapshotDone."""
    src_cfg, dest_cfg = job.src_task.mysql_connection_config, job.dest_task.mysql_connection_config

    def target() -> Any:
        return connect(dest_cfg)

    stop = ManualStop()
    src_transport = RedisTransport(client, job.job_id, capacity=capacity, stop=stop)
    dest_transport = RedisTransport(client, job.job_id, capacity=capacity)
    reader = SnapshotReader(lambda: connect(src_cfg), job, src_transport, TaskStats(), stop,
                            lambda: load_snapshot_resume(target, job.job_id), workers=workers)
    stats, stats_lock = TaskStats(), threading.Lock()

    def applier_factory() -> SnapshotApplier:
        return SnapshotApplier(target, job.job_id, job, stats, stats_lock=stats_lock)

    applier = applier_factory()  # the SnapshotDone, once the pool has drained
    pool = SnapshotPool(applier_factory, apply_workers, dest_transport.ack, ManualStop())
    result: dict[str, Any] = {}

    def read() -> None:
        try:
            result["position"] = reader.run()
        except BaseException as exc:  # reported by the main thread
            result["error"] = exc

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        while applier.done is None:
            if "error" in result:
                raise result["error"]
            for entry in dest_transport.receive(count=16, block_ms=100):
                if isinstance(entry.message, SnapshotDone):
                    pool.drain()
                    applier.apply(entry.message)
                    dest_transport.ack(entry.entry_id)
                else:
                    pool.submit(entry.entry_id, entry.message)  # acked by its worker
            pool.check()
        thread.join(timeout)
    finally:
        stop.set()
        pool.close()
        applier.close()
        src_transport.delete()
    return result["position"], applier
