"""What the benchmarks share besides their workloads: a job over the HTTP API on a real cluster
(API, beat, two Celery worker nodes), the source's binlog range and its native replay
(``mariadb-binlog | mariadb``), each process's CPU time and memory, py-spy profiles of the
workers, and the command-line options every bench takes."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from replication.gtid import GtidSet
from scripts.cluster import Cluster, wait_for
from scripts.mariadb_sandbox import MariaDBServer

# The runtime's documented defaults (scripts/cluster.py shortens them for the tests).
PRODUCTION_ENV = {"DTLE_NODE_DOWN_AFTER": "15", "DTLE_LEASE_TTL": "10", "DTLE_SCHEDULER_INTERVAL": "2",
                  "DTLE_TASK_MAX_RESTARTS": "5"}
NODES = ("node-a", "node-b")
DEFAULT_REDIS = os.environ.get("DTLE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
_TICK = os.sysconf("SC_CLK_TCK")


# -- processes --------------------------------------------------------------------------------
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    tree, out, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(tree.get(current, ()))
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def _status_mb(pid: int, key: str) -> float:
    """A memory line of ``/proc/<pid>/status`` in MB (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MB."""
    return _status_mb(pid, "VmHWM")


def rss_mb(pid: int) -> float:
    """The process's resident set now (VmRSS) in MB."""
    return _status_mb(pid, "VmRSS")


@dataclass
class CpuMeter:
    """CPU seconds of named process trees between ``start`` and ``stop``. A worker's busiest
    process (the pool process running the task) is told apart from the rest of the worker
    (its main process, heartbeats, the scheduler's periodic pass)."""

    groups: dict[str, int]
    _before: dict[int, float] = field(default_factory=dict)

    def start(self) -> CpuMeter:
        self._before = {p: cpu_seconds(p) for root in self.groups.values() for p in process_tree(root)}
        return self

    def stop(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, root in self.groups.items():
            used = {p: cpu_seconds(p) - self._before.get(p, 0.0) for p in process_tree(root)}
            if name.startswith("worker"):
                busiest = max(used, key=lambda p: used[p])
                out[f"{name} task process"] = used.pop(busiest)
                out[f"{name} rest"] = sum(used.values())
            else:
                out[name] = sum(used.values())
        return out


# -- the job through the API -------------------------------------------------------------------
class ApiJob:
    """A job the bench drives over HTTP (``route`` creates and updates it): its tasks' state,
    pause, resume and settings updates."""

    route = ""

    def __init__(self, cluster: Cluster, config: dict[str, Any]) -> None:
        self.cluster = cluster
        self.config = config
        self.job_id = ""

    def update(self, side: str, **settings: Any) -> None:
        """Change one task's settings (an update: the tasks restart from their checkpoints);
        returns once ``side`` runs as a new allocation."""
        self.config[f"{side}_task"].update(settings)
        old = self.cluster.allocation(self.job_id, side) or {}
        self.cluster.post(self.route, self.config)
        wait_for(lambda: (now := self.running(side)) and now["allocation_id"] != old.get(
            "allocation_id"), 60, f"the updated job's {side}")

    def node_of(self, side: str) -> str:
        alloc = self.cluster.allocation(self.job_id, side)
        return str(alloc["node_id"]) if alloc else "?"

    def running(self, side: str) -> dict[str, Any] | None:
        alloc = self.cluster.allocation(self.job_id, side)
        return alloc if alloc and alloc["task_status"]["status"] == "running" else None

    def pause(self) -> None:
        self.cluster.post("/v2/job/pause", job_id=self.job_id)
        wait_for(lambda: not self.running("src") and not self.running("dest"), 60, "both tasks to stop")

    def resume(self) -> None:
        self.cluster.post("/v2/job/resume", job_id=self.job_id)


class BenchJob(ApiJob):
    """One migration job created over HTTP with default settings (plus ``extra`` if given)."""

    route = "/v2/job/migration"

    def __init__(self, cluster: Cluster, name: str, source: MariaDBServer, target: MariaDBServer,
                 schema: str, extra_dest: dict[str, Any] | None = None) -> None:
        super().__init__(cluster, {
            "job_name": name,
            "src_task": {"mysql_connection_config": source.connection_config(),
                         "replicate_do_db": [{"table_schema": schema}]},
            "dest_task": {"mysql_connection_config": target.connection_config(), **(extra_dest or {})},
        })

    def create(self) -> BenchJob:
        self.job_id = self.cluster.post(self.route, self.config)["job"]["job_id"]
        wait_incremental(self.cluster, self.job_id, 600)
        return self

    def wait_running(self) -> None:
        wait_for(lambda: self.running("src") and self.running("dest"), 60, "both tasks to run",
                 interval=0.1)

    def monitor(self, side: str) -> dict[str, Any]:
        return self.cluster.monitor(self.job_id, side)

    @property
    def capacity(self) -> int:
        return 32  # repl_chan_buffer_size's default: the bench's jobs keep it

    def delete(self) -> None:
        self.cluster.request("POST", "/v2/job/delete", form={"job_id": self.job_id})


class MonitorSampler:
    """``GET /v2/monitor/task`` for the dest every second (tasks publish once a second), on a
    thread of its own."""

    def __init__(self, job: BenchJob) -> None:
        self._job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.samples: list[dict[str, Any]] = []

    def start(self) -> MonitorSampler:
        self._thread.start()
        return self

    def stop(self) -> list[dict[str, Any]]:
        self._stop.set()
        self._thread.join(10)
        return self.samples

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            alloc = self._job.running("dest")
            if alloc is None:
                continue
            params = {"allocation_id": alloc["allocation_id"], "task_name": "dest"}
            status, body = self._job.cluster.request("GET", "/v2/monitor/task", params=params)
            # Until the task's first publish the API answers an empty record (backlog "0/0").
            if status == 200 and body["tasks_status"].get("backlog", "0/0") != "0/0":
                self.samples.append(body["tasks_status"])


def describe_monitor(samples: list[dict[str, Any]], wrote: tuple[float, float], capacity: int) -> str:
    """The dest's monitor while it caught up, checked against what is known: the last applied
    transaction was written between the workload's first and last write (binlog timestamps are
    whole seconds), and the backlog never exceeds the capacity."""
    busy = [s for s in samples if s["delay_count"]["time"] > 0]
    if not busy:
        return "monitor: no sample while behind"
    wrong = []
    for sample in busy:
        at = sample["timestamp"] / 1e9
        low, high = at - wrote[1] - 1, at - wrote[0] + 1
        if not low <= sample["delay_count"]["time"] <= high:
            wrong.append(f"delay {sample['delay_count']['time']}s outside {low:.0f}..{high:.0f}s")
    queued = [int(s["backlog"].split("/")[0]) for s in samples]
    wrong += [f"backlog {s['backlog']} (capacity {capacity})" for s in samples
              if int(s["backlog"].split("/")[0]) > capacity or s["backlog"].split("/")[1] != str(capacity)]
    delays = [s["delay_count"]["time"] for s in busy]
    verdict = "consistent" if not wrong else "INCONSISTENT: " + "; ".join(wrong[:3])
    return (f"monitor while catching up: delay {min(delays)}..{max(delays)}s, backlog up to "
            f"{max(queued)}/{capacity} over {len(samples)} samples ({verdict})")


def applied_prefix(conn: pymysql.connections.Connection, job_id: str) -> int:
    """The gap-free prefix of domain 0 that the job's target checkpoint holds (0 if none)."""
    with conn.cursor() as cur:
        cur.execute("SELECT gtid_set FROM dtle.binlog_checkpoint WHERE job_id = %s AND seq >= 0", (job_id,))
        texts = [r[0] for r in cur.fetchall() if r[0]]
    conn.commit()  # a fresh snapshot for the next poll
    executed = GtidSet(True)
    for text in texts:
        executed.update(GtidSet.parse(text, True))
    if not executed:
        return 0
    return int(executed.position().split(",")[0].rpartition("-")[2])


# -- the binlog range and its native replay ----------------------------------------------------
@dataclass(frozen=True)
class BinlogPoint:
    file: str
    pos: int
    seq: int  # the domain-0 sequence number of the last transaction written


def binlog_point(server: MariaDBServer) -> BinlogPoint:
    row = server.execute("SHOW MASTER STATUS")[0]
    gtid = str(server.execute("SELECT @@gtid_binlog_pos")[0][0] or "0-0-0")
    return BinlogPoint(str(row[0]), int(str(row[1])), int(gtid.split(",")[0].rpartition("-")[2]))


def native_replay(source: MariaDBServer, start: BinlogPoint, end: BinlogPoint,
                  reference: MariaDBServer) -> float:
    """Seconds ``mariadb-binlog --start-position --stop-position <files> | mariadb`` takes to
    apply the range to ``reference``."""
    index = (source.datadir / "mysql-bin.index").read_text().split()
    names = [Path(n).name for n in index]
    files = [str(source.datadir / n) for n in names[names.index(start.file):names.index(end.file) + 1]]
    started = time.perf_counter()
    dump = subprocess.Popen(["mariadb-binlog", f"--start-position={start.pos}",
                             f"--stop-position={end.pos}", *files], stdout=subprocess.PIPE)
    client = subprocess.run(["mariadb", "-h127.0.0.1", f"-P{reference.port}", "-uroot", "--protocol=tcp"],
                            stdin=dump.stdout, capture_output=True)
    if dump.stdout is not None:
        dump.stdout.close()
    if dump.wait() != 0 or client.returncode != 0:
        raise SystemExit(f"native replay failed: {client.stderr.decode(errors='replace')[-500:]}")
    return time.perf_counter() - started


def start_cluster(workdir: Path, redis_url: str) -> Cluster:
    cluster = Cluster(workdir, redis_url, extra_env=PRODUCTION_ENV).start()
    for node in NODES:
        cluster.start_worker(node, node_id=node)
    wait_for(lambda: {n["node_id"] for n in cluster.get("/v2/nodes")["nodes"]
                      if n["node_status"] == "ready"} >= set(NODES), 120, "both nodes ready")
    return cluster


def process_groups(cluster: Cluster, source: MariaDBServer, target: MariaDBServer) -> dict[str, int]:
    """Named process trees: the API, beat, each worker node, the two servers."""
    groups: dict[str, int] = {}
    if cluster.api is not None:
        groups["API"] = cluster.api.pid
    if cluster.beat is not None:
        groups["beat"] = cluster.beat.pid
    for name, proc in cluster.workers.items():
        groups[f"worker {name}"] = proc.pid
    for label, server in (("source mariadbd", source), ("target mariadbd", target)):
        if server.process is not None:
            groups[label] = server.process.pid
    return groups


def with_roles(cpu: dict[str, float], job: ApiJob) -> dict[str, float]:
    """``cpu`` with each worker named by the task of ``job`` it ran."""
    roles = {f"worker {job.node_of(side)}": side for side in ("src", "dest")}
    out = {}
    for name, value in cpu.items():
        worker = next((w for w in roles if name.startswith(w + " ")), None)
        out[name.replace(worker, f"{worker} ({roles[worker]})") if worker else name] = value
    return out


def worker_peaks(cluster: Cluster) -> dict[str, float]:
    """Each worker node's largest peak RSS over its processes (the tasks run in its pool)."""
    return {name: max(peak_rss_mb(p) for p in process_tree(proc.pid))
            for name, proc in cluster.workers.items()}


def wait_incremental(cluster: Cluster, job_id: str, timeout: float, interval: float = 0.5) -> None:
    """Until the job's dest announces ``job_stage_incr`` (it does so once the copy committed)."""
    wait_for(lambda: any("job_stage_incr" in e for e in cluster.events(job_id, "dest")),
             timeout, f"{job_id} to reach incremental", interval=interval)


# -- profiles ------------------------------------------------------------------------------------
def start_profile(cluster: Cluster, out_dir: str | None, slug: str,
                  flags: Sequence[str]) -> list[subprocess.Popen[bytes]]:
    """py-spy raw stacks of every worker node (``<out_dir>/<slug>-<worker>.txt``) until
    ``stop_profile``; nothing without ``out_dir``."""
    if not out_dir:
        return []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spy = [str(Path(sys.executable).parent / "py-spy"), "record", "--subprocesses", "--nonblocking",
           "--rate", "50", "--format", "raw", *flags]
    return [subprocess.Popen([*spy, "--pid", str(proc.pid), "-o", str(out / f"{slug}-{name}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, proc in cluster.workers.items()]


def stop_profile(profilers: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """Stop the profilers (SIGINT makes py-spy write its file) and wait for them."""
    for proc in profilers:
        proc.send_signal(signal.SIGINT)
    for proc in profilers:
        proc.wait(timeout)


# -- command line --------------------------------------------------------------------------------
def bench_parser(doc: str) -> argparse.ArgumentParser:
    """A parser with the options every bench takes: ``--redis`` and ``--workdir``."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--redis", default=DEFAULT_REDIS,
                        help="Redis database of the bench's cluster; it is flushed (default %(default)s)")
    parser.add_argument("--workdir", metavar="DIR", help="keep the cluster's store and logs here")
    return parser


def bench_workdir(stack: ExitStack, wanted: str | None) -> Path:
    """``--workdir`` if given (created), else a temporary directory removed with ``stack``."""
    workdir = Path(wanted) if wanted else Path(
        stack.enter_context(tempfile.TemporaryDirectory(prefix="dtle-bench-")))
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir
