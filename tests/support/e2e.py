"""Helpers for the end-to-end tests: data sets, comparisons, job configs, and what a running
deployment says about its nodes and jobs (the fixtures are in ``tests/integration/conftest.py``)."""

from __future__ import annotations

import uuid
from typing import Any

import redis

from scripts.cluster import Cluster, wait_for
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import table_digest


def create_dataset(server: MariaDBServer, schema: str, rows: int) -> None:
    """Two tables: ``items`` with a mix of types and ``counter`` for non-idempotent updates."""
    server.execute(f"CREATE DATABASE `{schema}`")
    server.execute(
        f"CREATE TABLE `{schema}`.items (id INT PRIMARY KEY, name VARCHAR(40) NOT NULL, "
        "price DECIMAL(10,2), at DATETIME(6), flag TINYINT, note TEXT)"
    )
    server.execute(f"CREATE TABLE `{schema}`.counter (id INT PRIMARY KEY, n BIGINT NOT NULL)")
    server.execute(
        f"INSERT INTO `{schema}`.items SELECT seq, CONCAT('item-', seq), seq / 7, "
        f"'2024-01-01 00:00:00.5' + INTERVAL seq SECOND, seq % 2, IF(seq % 5, NULL, 'five') "
        f"FROM `{schema}`.seq_1_to_{rows}"
    )
    server.execute(f"INSERT INTO `{schema}`.counter SELECT seq, 0 FROM `{schema}`.seq_1_to_10")


def write_some(server: MariaDBServer, schema: str, start: int, count: int) -> None:
    """Inserts, an update, a delete and counter increments that would show any duplicate."""
    server.execute(
        f"INSERT INTO `{schema}`.items SELECT seq, CONCAT('new-', seq), 1.5, NOW(6), 1, 'w' "
        f"FROM `{schema}`.seq_{start}_to_{start + count - 1}"
    )
    server.execute(f"UPDATE `{schema}`.items SET note = CONCAT('u', id) WHERE id % 97 = {start % 97}")
    server.execute(f"DELETE FROM `{schema}`.items WHERE id % 101 = {start % 101}")
    for _ in range(5):
        server.execute(f"UPDATE `{schema}`.counter SET n = n + 1")


def same_data(source: MariaDBServer, target: MariaDBServer, schema: str,
              tables: tuple[str, ...] = ("items", "counter")) -> bool:
    """Whether each of ``tables`` has the same digest on both servers."""
    return all(table_digest(source, schema, t) == table_digest(target, schema, t) for t in tables)


def migration_config(name: str, source: MariaDBServer, target: MariaDBServer, schema: str,
                     **src_extra: Any) -> dict[str, Any]:
    return {
        "job_name": name,
        "src_task": {"mysql_connection_config": source.connection_config(),
                     "replicate_do_db": [{"table_schema": schema}], "chunk_size": 1000, **src_extra},
        "dest_task": {"mysql_connection_config": target.connection_config()},
    }


def new_schema(prefix: str = "e2e") -> str:
    """A schema name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def ready_nodes(cluster: Cluster) -> set[str]:
    return {n["node_id"] for n in cluster.get("/v2/nodes")["nodes"] if n["node_status"] == "ready"}


def in_incremental(cluster: Cluster, job_id: str) -> bool:
    """The dest announced the incremental stage: the full copy is over."""
    return any("job_stage_incr" in e for e in cluster.events(job_id, "dest"))


def start_job(cluster: Cluster, config: dict[str, Any], job_type: str = "migration") -> str:
    """Create a job through the API; its id once it reached the incremental stage."""
    job_id = str(cluster.post(f"/v2/job/{job_type}", config)["job"]["job_id"])
    wait_for(lambda: in_incremental(cluster, job_id), 180, f"{job_id} to reach incremental")
    return job_id


def wait_released(job_id: str, redis_url: str) -> None:
    """Wait until both of the job's tasks let go of their leases: they stopped for good (after
    a pause or a delete), so nothing more reaches the target."""
    client = redis.Redis.from_url(redis_url)
    try:
        wait_for(lambda: not client.exists(f"dtle:lease:{job_id}:src", f"dtle:lease:{job_id}:dest"),
                 30, "both tasks to let go of their leases")
    finally:
        client.close()
