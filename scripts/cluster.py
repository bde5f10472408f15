"""A real deployment on one machine, for the demo and the end-to-end tests.

The API (``manage.py runserver``), Celery workers (each its own node and process group, so a
test can SIGKILL one like a lost host) and Celery beat, sharing one SQLite store and one Redis
database. Nothing is mocked: jobs are driven through HTTP, logged in as a platform superuser that
``start`` creates with a random password (``admin_user`` / ``admin_password``), so every request
carries its token unless it asks not to.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scripts.mariadb_sandbox import free_port, terminate_with_parent

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


class Cluster:
    """API + beat + named workers, started and stopped as processes."""

    def __init__(self, workdir: Path, redis_url: str, extra_env: dict[str, str] | None = None):
        self.workdir = workdir
        self.api_port = free_port()
        self.env = {
            **os.environ,
            "DTLE_DATA_DIR": str(workdir),
            "DTLE_REDIS_URL": redis_url,
            "DTLE_NODE_DOWN_AFTER": "6",
            "DTLE_LEASE_TTL": "6",
            "DTLE_SCHEDULER_INTERVAL": "1",
            "DTLE_TASK_MAX_RESTARTS": "3",
            "DTLE_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.admin_user = "dtle-admin"
        self.admin_password = secrets.token_urlsafe(18)
        self.token = ""
        self.api: subprocess.Popen[bytes] | None = None
        self.beat: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _spawn(self, name: str, args: list[str],
               env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "ab")  # kept open: the child writes to it
        # SIGTERM when the starting process dies: a killed bench, test run or demo leaves no
        # worker behind to take the next run's tasks from the same Redis database.
        return subprocess.Popen(args, cwd=ROOT, env=env or self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=terminate_with_parent)

    def start(self) -> Cluster:
        subprocess.run([str(BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
                       cwd=ROOT, env=self.env, check=True)
        self.manage("createsuperuser", "--noinput", "--username", self.admin_user,
                    "--email", "admin@localhost",
                    env={"DJANGO_SUPERUSER_PASSWORD": self.admin_password})
        self.api = self._spawn("api", [str(BIN / "python"), "manage.py", "runserver",
                                       f"127.0.0.1:{self.api_port}", "--noreload"])
        self.beat = self._spawn("beat", [str(BIN / "celery"), "-A", "dtleweb", "beat",
                                         "-s", str(self.workdir / "beat-schedule"),
                                         "--loglevel", "INFO"])
        wait_for(lambda: self._api_up(), 60, "the API to answer")
        self.token = self.login(self.admin_user, self.admin_password)
        return self

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        """Run a ``manage.py`` command against the cluster's store; its output."""
        done = subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=ROOT,
                              env={**self.env, **(env or {})}, check=True, capture_output=True,
                              text=True)
        return done.stdout

    def login(self, username: str, password: str, tenant: str = "platform") -> str:
        """A token from ``POST /v2/login``."""
        status, body = self.request("POST", "/v2/login", auth=False, body={
            "tenant": tenant, "username": username, "password": password})
        assert status == 200, (status, body)
        return str(body["data"]["token"])

    def _api_up(self) -> bool:
        try:
            status, _ = self.request("GET", "/health", auth=False)
            return status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    def start_worker(self, name: str, node_id: str | None = None) -> None:
        env = dict(self.env)
        if node_id:
            env["DTLE_NODE_ID"] = node_id
        self.workers[name] = self._spawn(
            f"worker-{name}",
            [str(BIN / "celery"), "-A", "dtleweb", "worker", "-n", f"{name}@%h", "-Q", "dtle",
             "-c", "6", "--prefetch-multiplier", "1", "-O", "fair", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle"],
            env,
        )

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and every process it started, as if its host died."""
        proc = self.workers.pop(name)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()

    def stop(self) -> None:
        for name in list(self.workers):
            proc = self.workers[name]
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for name in list(self.workers):
            proc = self.workers.pop(name)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for service in (self.beat, self.api):
            if service is not None and service.poll() is None:
                os.killpg(service.pid, signal.SIGTERM)
                try:
                    service.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(service.pid, signal.SIGKILL)

    # -- HTTP ---------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, form: dict[str, str] | None = None,
                params: dict[str, str] | None = None, auth: bool = True,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        """One HTTP call with the cluster's token (``auth=False``: none; ``headers`` win)."""
        url = self.base_url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        headers = {"Accept": "application/json",
                   **({"Authorization": f"Bearer {self.token}"} if auth and self.token else {}),
                   **(headers or {})}
        data = None
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def get(self, path: str, **params: str) -> dict[str, Any]:
        status, body = self.request("GET", path, params=params or None)
        assert status == 200, (path, status, body)
        return body

    def post(self, path: str, body: Any = None, **form: str) -> dict[str, Any]:
        status, data = self.request("POST", path, body=body, form=form or None)
        assert status == 200, (path, status, data)
        return data

    def detail(self, job_id: str) -> dict[str, Any]:
        job_type = job_id.rsplit("-", 1)[1]
        return self.get(f"/v2/job/{job_type}/detail", job_id=job_id)

    def allocation(self, job_id: str, side: str) -> dict[str, Any] | None:
        allocs = self.detail(job_id)[f"{side}_task_detail"]["allocations"]
        return allocs[-1] if allocs else None

    def events(self, job_id: str, side: str) -> list[str]:
        out = []
        for alloc in self.detail(job_id)[f"{side}_task_detail"]["allocations"]:
            out += [f"{e['event_type']}:{e['message']}" for e in alloc["task_status"]["task_events"]]
        return out

    def monitor(self, job_id: str, side: str) -> dict[str, Any]:
        alloc = self.allocation(job_id, side)
        assert alloc is not None
        return self.get("/v2/monitor/task", allocation_id=alloc["allocation_id"],
                        task_name=side)["tasks_status"]

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` on timeout."""
    deadline = time.time() + timeout
    last: Any = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
