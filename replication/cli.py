"""Run one task of a job from the command line, without the control plane.

    python -m replication.cli src  --job-config job.json [--redis redis://127.0.0.1:6379/0]
    python -m replication.cli dest --job-config job.json

``job.json`` is a job in the API's create format (dtle field names). The process runs until
SIGINT/SIGTERM, which stop it cleanly at the next batch; every checkpoint survives a SIGKILL.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import uuid
from typing import Any

import redis

from replication.config import (
    DestTaskConfig,
    JobConfig,
    JobType,
    KafkaDestTaskConfig,
    MySQLConnectionConfig,
    MySQLDestTaskConfig,
    SchemaRule,
    SrcTaskConfig,
    TableRule,
)
from replication.errors import ReplicationError, Stopped
from replication.stats import TaskStats
from replication.stop import ManualStop
from replication.task import TaskContext
from replication.wire.transport import RedisTransport

log = logging.getLogger(__name__)


def _rules(items: list[dict[str, Any]]) -> tuple[SchemaRule, ...]:
    return tuple(SchemaRule(
        table_schema=r.get("table_schema", ""), table_schema_regex=r.get("table_schema_regex", ""),
        table_schema_rename=r.get("table_schema_rename", ""),
        tables=tuple(TableRule(**{**t, "column_map_from": tuple(t.get("column_map_from", ()))})
                     for t in r.get("tables", ()))) for r in items)


def job_from_json(data: dict[str, Any]) -> JobConfig:
    """A job config from the API's JSON (no validation beyond what the dataclasses need)."""
    src = dict(data["src_task"])
    dest = dict(data["dest_task"])
    src_conn = MySQLConnectionConfig(**src.pop("mysql_connection_config"))
    dest_task: DestTaskConfig
    if "kafka_broker_addrs" in dest:
        dest_task = KafkaDestTaskConfig(**{**dest, "kafka_broker_addrs": tuple(dest["kafka_broker_addrs"])})
    else:
        dest_conn = MySQLConnectionConfig(**dest.pop("mysql_connection_config"))
        dest_task = MySQLDestTaskConfig(mysql_connection_config=dest_conn, **dest)
    src["replicate_do_db"] = _rules(src.get("replicate_do_db", []))
    src["replicate_ignore_db"] = _rules(src.get("replicate_ignore_db", []))
    job_type = JobType(data.get("job_type", "migration"))
    job_id = data.get("job_id") or f"{data['job_name']}-{job_type.value}"
    return JobConfig(job_id=job_id, job_name=data.get("job_name", job_id), job_type=job_type,
                     src_task=SrcTaskConfig(mysql_connection_config=src_conn, **src),
                     dest_task=dest_task)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a job's src or dest task.")
    parser.add_argument("task", choices=["src", "dest"])
    parser.add_argument("--job-config", required=True)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--owner", default="",
                        help="the dest's owner id on the target (default: a new random one, "
                             "so a dest started later fences out any still running)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    with open(args.job_config) as handle:
        job = job_from_json(json.load(handle))
    stop = ManualStop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    client = redis.Redis.from_url(args.redis)
    transport = RedisTransport(client, job.job_id, job.src_task.repl_chan_buffer_size, stop=stop)
    ctx = TaskContext(job=job, transport=transport, stats=TaskStats(), publish_stats=lambda: None,
                      event=lambda kind, msg: log.info("job %s: event %s %s", job.job_id, kind, msg),
                      stop=stop, owner=args.owner or f"cli-{uuid.uuid4().hex[:16]}")
    from replication.runners import DestRunner, SrcRunner

    runner = SrcRunner(ctx) if args.task == "src" else DestRunner(ctx)
    try:
        runner.run()
    except Stopped:
        pass
    except ReplicationError as exc:
        log.error("job %s: %s task failed: %s", job.job_id, args.task, exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
