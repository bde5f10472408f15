"""End to end through HTTP against real processes: the API, two Celery worker nodes, beat,
Redis and two MariaDB servers. These are the project's main proof that a job runs, survives
the loss of a node and obeys pause, resume, update and delete."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from scripts.cluster import Cluster, wait_for
from scripts.mariadb_sandbox import MariaDBServer
from tests.support.digest import table_digest
from tests.support.e2e import (
    create_dataset,
    in_incremental,
    migration_config,
    new_schema,
    ready_nodes,
    same_data,
    start_job,
    wait_released,
    write_some,
)
from tests.support.redis_urls import E2E_REDIS_URL

NODES = ("node-a", "node-b")
pytestmark = pytest.mark.usefixtures("jobs_deleted_afterwards")


def _running_allocation(cluster: Cluster, job_id: str, side: str) -> dict | None:
    alloc = cluster.allocation(job_id, side)
    return alloc if alloc and alloc["task_status"]["status"] == "running" else None


def _node_status(cluster: Cluster, node_id: str) -> str:
    return next(n["node_status"] for n in cluster.get("/v2/nodes")["nodes"] if n["node_id"] == node_id)


def test_a_migration_copies_then_replicates_and_reports_progress(
    cluster: Cluster, source_server: MariaDBServer, target_server: MariaDBServer
) -> None:
    schema = new_schema()
    create_dataset(source_server, schema, 20_000)
    job_id = start_job(cluster, migration_config("copy", source_server, target_server, schema))
    assert same_data(source_server, target_server, schema)
    write_some(source_server, schema, 100_000, 500)
    wait_for(lambda: same_data(source_server, target_server, schema), 60, "writes to arrive")

    events = cluster.events(job_id, "dest")
    assert "Driver:job_stage_full" in events and "Driver:job_stage_incr" in events
    assert {"Received", "Task Setup", "Started"} <= {e.split(":")[0] for e in events}
    status = wait_for(lambda: (s := cluster.monitor(job_id, "dest"))["exec_master_tx_count"] and s,
                      30, "applied transactions in the monitor")
    assert status["progress_PCT"] == "100.0" and status["ETA"] == "0s"
    assert status["exec_master_row_count"] >= 20_000
    assert status["current_coordinates"]["gtid_set"]
    assert isinstance(status["delay_count"]["time"], int)
    assert status["backlog"].endswith("/32")  # queued/repl_chan_buffer_size, filled by the runtime
    assert status["nats_message_status"]["in_messages"] > 0
    jobs = cluster.get("/v2/jobs")["jobs"]
    assert {"job_id": job_id, "job_status": "running"}.items() <= next(
        j for j in jobs if j["job_id"] == job_id).items()


def test_pause_stops_apply_and_resume_catches_up(
    cluster: Cluster, source_server: MariaDBServer, target_server: MariaDBServer
) -> None:
    schema = new_schema()
    create_dataset(source_server, schema, 2_000)
    job_id = start_job(cluster, migration_config("pause", source_server, target_server, schema))
    cluster.post("/v2/job/pause", job_id=job_id)
    wait_for(lambda: not _running_allocation(cluster, job_id, "dest")
             and not _running_allocation(cluster, job_id, "src"), 15, "both tasks to stop")
    assert next(j for j in cluster.get("/v2/jobs")["jobs"] if j["job_id"] == job_id)["job_status"] == "paused"
    wait_released(job_id, E2E_REDIS_URL)  # a task that let go of its lease applies nothing more
    before = table_digest(target_server, schema, "items")
    write_some(source_server, schema, 50_000, 300)
    assert table_digest(target_server, schema, "items") == before

    cluster.post("/v2/job/resume", job_id=job_id)
    wait_for(lambda: same_data(source_server, target_server, schema), 90, "resume to catch up")


def test_a_killed_node_moves_its_task_and_nothing_is_lost_or_doubled(
    cluster: Cluster, source_server: MariaDBServer, target_server: MariaDBServer
) -> None:
    schema = new_schema()
    create_dataset(source_server, schema, 5_000)
    job_id = start_job(cluster, migration_config("failover", source_server, target_server, schema))
    victim = cluster.allocation(job_id, "dest")["node_id"]
    old_alloc = cluster.allocation(job_id, "dest")["allocation_id"]
    write_some(source_server, schema, 200_000, 300)
    cluster.kill_worker(victim)
    killed_at = time.time()
    write_some(source_server, schema, 300_000, 300)

    def moved() -> bool:
        alloc = _running_allocation(cluster, job_id, "dest")
        return bool(alloc and alloc["allocation_id"] != old_alloc and alloc["node_id"] != victim)

    wait_for(moved, 30, "the dest task to run on the other node")
    assert time.time() - killed_at < 30
    wait_for(lambda: same_data(source_server, target_server, schema), 90, "the target to converge")
    cluster.start_worker(victim, node_id=victim)
    wait_for(lambda: victim in ready_nodes(cluster), 60, "the killed node to come back")


def test_failover_false_waits_for_its_node_and_continues(
    cluster: Cluster, source_server: MariaDBServer, target_server: MariaDBServer
) -> None:
    schema = new_schema()
    create_dataset(source_server, schema, 2_000)
    config = migration_config("pinned", source_server, target_server, schema)
    config["failover"] = False
    config["src_task"]["node_id"] = "node-a"
    config["dest_task"]["node_id"] = "node-b"
    job_id = start_job(cluster, config)
    assert cluster.allocation(job_id, "dest")["node_id"] == "node-b"
    cluster.kill_worker("node-b")
    write_some(source_server, schema, 400_000, 200)
    wait_for(lambda: _node_status(cluster, "node-b") == "down", 60, "node-b to be declared down")
    alloc = cluster.allocation(job_id, "dest")
    assert alloc["node_id"] == "node-b" and alloc["task_status"]["status"] != "running"
    cluster.start_worker("node-b", node_id="node-b")
    wait_for(lambda: same_data(source_server, target_server, schema), 90, "the pinned task to resume")
    assert cluster.allocation(job_id, "dest")["node_id"] == "node-b"


def test_an_update_restarts_from_checkpoints_not_from_scratch(
    cluster: Cluster, source_server: MariaDBServer, target_server: MariaDBServer
) -> None:
    schema = new_schema()
    create_dataset(source_server, schema, 3_000)
    config = migration_config("update", source_server, target_server, schema)
    config["src_task"]["replicate_do_db"] = [{"table_schema": schema, "tables": [{"table_name": "items"}]}]
    job_id = start_job(cluster, config)
    # The copy applied (the dest announces incremental when it receives the copy's end, while
    # its last chunks may still be applying): the update must find a finished copy.
    wait_for(lambda: same_data(source_server, target_server, schema, ("items",)), 60, "the copy")
    first_dest = cluster.allocation(job_id, "dest")["allocation_id"]

    config["src_task"]["replicate_do_db"][0]["tables"].append({"table_name": "extra"})
    cluster.post("/v2/job/migration", config)
    wait_for(lambda: (a := _running_allocation(cluster, job_id, "dest")) and a["allocation_id"] != first_dest,
             60, "the updated job's new allocation")
    source_server.execute(f"CREATE TABLE `{schema}`.extra (id INT PRIMARY KEY, v VARCHAR(10))")
    source_server.execute(f"INSERT INTO `{schema}`.extra VALUES (1, 'a'), (2, 'b')")
    write_some(source_server, schema, 500_000, 100)
    wait_for(lambda: same_data(source_server, target_server, schema, ("items", "extra")), 90,
             "the added table and new writes to arrive")
    assert cluster.events(job_id, "dest").count("Driver:job_stage_full") == 1


def test_delete_stops_both_tasks_and_removes_the_job(
    cluster: Cluster, source_server: MariaDBServer, target_server: MariaDBServer
) -> None:
    schema = new_schema()
    create_dataset(source_server, schema, 1_000)
    job_id = start_job(cluster, migration_config("delete", source_server, target_server, schema))
    cluster.post("/v2/job/delete", job_id=job_id)
    status, _ = cluster.request("GET", "/v2/job/migration/detail", params={"job_id": job_id})
    assert status == 404
    wait_released(job_id, E2E_REDIS_URL)
    before = table_digest(target_server, schema, "items")
    write_some(source_server, schema, 600_000, 100)
    assert table_digest(target_server, schema, "items") == before
    assert not redis.Redis.from_url(E2E_REDIS_URL).exists(f"dtle:stream:{job_id}")


def test_an_unreachable_source_fails_the_job_and_resume_recovers_it(
    cluster: Cluster, target_server: MariaDBServer, tmp_path: Path
) -> None:
    source = MariaDBServer(tmp_path / "flaky", server_id=121).start()
    schema = new_schema()
    try:
        create_dataset(source, schema, 500)
        source.stop()
        job_id = cluster.post("/v2/job/migration",
                              migration_config("flaky", source, target_server, schema))["job"]["job_id"]

        def failed() -> dict | None:
            job = next(j for j in cluster.get("/v2/jobs")["jobs"] if j["job_id"] == job_id)
            return job if job["job_status"] == "failed" else None

        job = wait_for(failed, 90, "the job to give up")
        assert "connect" in job["job_status_description"].lower()
        assert any("Driver Failure" in e and "connect" in e.lower() for e in cluster.events(job_id, "src"))
        source.start()
        cluster.post("/v2/job/resume", job_id=job_id)
        wait_for(lambda: in_incremental(cluster, job_id), 90, "the resumed job to run")
        wait_for(lambda: same_data(source, target_server, schema), 60, "the copy after resume")
    finally:
        source.destroy()


def test_a_position_purged_while_paused_fails_the_job_with_the_way_back(
    cluster: Cluster, target_server: MariaDBServer, tmp_path: Path
) -> None:
    source = MariaDBServer(tmp_path / "purged", server_id=122).start()
    schema = new_schema()
    try:
        create_dataset(source, schema, 300)
        job_id = start_job(cluster, migration_config("purged", source, target_server, schema))
        wait_for(lambda: same_data(source, target_server, schema), 60, "the copy")
        cluster.post("/v2/job/pause", job_id=job_id)
        wait_for(lambda: not _running_allocation(cluster, job_id, "dest")
                 and not _running_allocation(cluster, job_id, "src"), 15, "both tasks to stop")
        before = table_digest(target_server, schema, "items")
        write_some(source, schema, 50_000, 100)  # changes the target has not seen
        source.execute("FLUSH BINARY LOGS")
        source.purge_binary_logs_to(str(source.execute("SHOW BINARY LOGS")[-1][0]))
        write_some(source, schema, 60_000, 100)
        cluster.post("/v2/job/resume", job_id=job_id)

        def failed() -> dict | None:
            job = next(j for j in cluster.get("/v2/jobs")["jobs"] if j["job_id"] == job_id)
            return job if job["job_status"] == "failed" else None

        job = wait_for(failed, 90, "the job to fail on the purged position")
        reason = job["job_status_description"]
        assert "no longer has its binlog from" in reason and "re-create the job with a full copy" \
            in reason, reason
        # Nothing after the purged range was applied: the target is as the pause left it.
        assert table_digest(target_server, schema, "items") == before
    finally:
        source.destroy()
