"""The main job, end to end: a live migration between two local MariaDB servers through the API.

Starts a source and a target MariaDB, fills a sample ``shop`` database on the source, starts the
API, two worker nodes and the scheduler, creates a migration job with ``POST /v2/job/migration``,
follows the full copy's progress, then writes on the source and shows the rows arriving on the
target. Run it through ``scripts/demo.sh``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import redis

from scripts.cluster import Cluster, wait_for
from scripts.mariadb_sandbox import MariaDBServer

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_ROWS = 200_000
DEMO_REDIS_URL = "redis://127.0.0.1:6379/1"


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def load_sample(source: MariaDBServer, rows: int) -> None:
    source.execute("CREATE DATABASE shop")
    source.execute(
        "CREATE TABLE shop.customers (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, "
        "email VARCHAR(128) UNIQUE, created DATETIME(6) NOT NULL)"
    )
    source.execute(
        "CREATE TABLE shop.orders (id BIGINT UNSIGNED PRIMARY KEY, customer_id INT NOT NULL, "
        "amount DECIMAL(12,2) NOT NULL, status ENUM('new','paid','shipped') NOT NULL, "
        "note TEXT, KEY (customer_id))"
    )
    source.execute(
        "INSERT INTO shop.customers SELECT seq, CONCAT('customer ', seq), "
        "CONCAT('c', seq, '@example.com'), NOW(6) - INTERVAL seq MINUTE FROM shop.seq_1_to_10000"
    )
    source.execute(
        f"INSERT INTO shop.orders SELECT seq, 1 + seq % 10000, (seq % 100000) / 100, "
        f"ELT(1 + seq % 3, 'new', 'paid', 'shipped'), REPEAT('x', seq % 50) FROM shop.seq_1_to_{rows}"
    )


def counts(server: MariaDBServer) -> tuple[int, int]:
    rows = server.execute("SELECT (SELECT COUNT(*) FROM shop.customers), (SELECT COUNT(*) FROM shop.orders)")
    customers, orders = rows[0]
    return int(str(customers)), int(str(orders))


def dest_gtid_set(cluster: Cluster, job_id: str) -> str:
    """The executed GTID set the dest task's monitor reports."""
    return str(cluster.monitor(job_id, "dest")["current_coordinates"]["gtid_set"])


def job_config(source: MariaDBServer, target: MariaDBServer) -> dict[str, object]:
    return {
        "job_name": "demo",
        "failover": True,
        "src_task": {"task_name": "src", "mysql_connection_config": source.connection_config(),
                     "replicate_do_db": [{"table_schema": "shop"}], "chunk_size": 2000},
        "dest_task": {"task_name": "dest", "mysql_connection_config": target.connection_config(),
                      "parallel_workers": 2},
    }


def follow_full_copy(cluster: Cluster, job_id: str) -> None:
    def stage_incr() -> bool:
        status = cluster.monitor(job_id, "dest") if cluster.allocation(job_id, "dest") else None
        if status:
            print(f"   full copy {status['progress_PCT']:>5}%  rows {status['exec_master_row_count']}"
                  f"/{status['read_master_row_count']}  ETA {status['ETA']}", flush=True)
        return any("job_stage_incr" in e for e in cluster.events(job_id, "dest"))

    wait_for(stage_incr, 600, "the incremental stage", interval=1.0)


def run(workdir: Path, keep: bool, redis_url: str = DEMO_REDIS_URL) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    say("starting two MariaDB servers (binlog on, ROW format)")
    source = MariaDBServer(workdir / "source", server_id=1).start()
    target = MariaDBServer(workdir / "target", server_id=2).start()
    print(f"   source 127.0.0.1:{source.port}, target 127.0.0.1:{target.port}")
    # A Redis database of the demo's own, emptied so no earlier run's stream is replayed.
    redis.Redis.from_url(redis_url).flushdb()
    cluster = Cluster(workdir, redis_url)
    try:
        say(f"loading sample database 'shop' on the source ({SAMPLE_ROWS} orders)")
        load_sample(source, SAMPLE_ROWS)
        say("starting the API, two worker nodes and the scheduler")
        cluster.start()
        cluster.start_worker("node1")
        cluster.start_worker("node2")
        wait_for(lambda: len(cluster.get("/v2/nodes")["nodes"]) >= 2, 60, "two ready nodes")
        for node in cluster.get("/v2/nodes")["nodes"]:
            print(f"   node {node['node_id']} {node['node_status']}")
        say("POST /v2/job/migration")
        created = cluster.post("/v2/job/migration", job_config(source, target))
        job_id = created["job"]["job_id"]
        print(f"   created job {job_id}")
        follow_full_copy(cluster, job_id)
        print(f"   source (customers, orders) = {counts(source)}; target = {counts(target)}")
        say("writing on the source while the job runs")
        source.execute("INSERT INTO shop.orders SELECT 1000000 + seq, seq, 9.99, 'new', 'live' "
                       "FROM shop.seq_1_to_500")
        source.execute("UPDATE shop.orders SET status = 'shipped' WHERE id <= 1000")
        source.execute("DELETE FROM shop.customers WHERE id > 9990")
        wait_for(lambda: counts(target) == counts(source), 120, "the target to catch up")
        print(f"   source {counts(source)} == target {counts(target)}")
        # The monitor's executed GTID set follows the dest's checkpoint within a second or two.
        executed = str(source.execute("SELECT @@GLOBAL.gtid_binlog_pos")[0][0])
        wait_for(lambda: dest_gtid_set(cluster, job_id) == executed, 30,
                 f"the dest's monitor to report the source's GTID set {executed}")
        status = cluster.monitor(job_id, "dest")
        print(f"   source gtid_binlog_pos {executed!r}")
        print(f"   dest: gtid_set {status['current_coordinates']['gtid_set']!r}, "
              f"delay {status['delay_count']['time']}s, stage {status['stage']!r}")
        say(f"Swagger UI: {cluster.base_url}/swagger/index.html   admin: {cluster.base_url}/admin/")
        print(f"   log in (POST /v2/login or the admin) as tenant 'platform', user "
              f"{cluster.admin_user!r}, password {cluster.admin_password!r} (made for this run)")
        if keep:
            print("   running until Ctrl-C ...", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
        source.stop()
        target.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run a live migration between two local MariaDB servers.")
    parser.add_argument("--keep", action="store_true", help="keep everything running until Ctrl-C")
    parser.add_argument("--workdir", default=str(ROOT / "var" / "demo"))
    parser.add_argument("--redis", default=DEMO_REDIS_URL,
                        help="a Redis database of the demo's own; it is emptied first")
    args = parser.parse_args()
    run(Path(args.workdir), args.keep, args.redis)


if __name__ == "__main__":
    main()
