"""The deployment in docker/: the compose file's services parse and hold no password, and the
image's entrypoint roles run here outside Docker against PostgreSQL and Redis, as in the image."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import yaml

from scripts.cluster import Cluster, wait_for
from scripts.mariadb_sandbox import free_port
from tests.support.redis_urls import E2E_REDIS_URL

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yaml"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
DTLE_SERVICES = {"api", "beat", "node1", "node2"}
SERVICES = DTLE_SERVICES | {"postgres", "redis", "mysql-source", "mysql-target", "kafka"}
POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text()))


def test_the_compose_file_has_every_service_with_a_health_check() -> None:
    services = compose()["services"]
    assert set(services) == SERVICES
    assert [name for name, s in services.items() if "test" not in s.get("healthcheck", {})] == []
    for name in DTLE_SERVICES:
        assert services[name]["image"] == "dtle-py"
        assert services[name]["command"][0] in ("api", "worker", "beat"), name
    assert services["api"]["environment"]["DTLE_DATABASE_URL"].startswith("postgres://")
    for name in ("mysql-source", "mysql-target"):
        assert {"--gtid-mode=ON", "--enforce-gtid-consistency=ON", "--binlog-format=ROW"} <= set(
            services[name]["command"]), name
        assert services[name]["image"].startswith("mysql:8")
    assert "binlog-row-metadata=FULL" in " ".join(services["mysql-source"]["command"])
    assert services["kafka"]["image"].startswith("apache/kafka")


def test_the_compose_file_writes_no_password() -> None:
    def secrets_in(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
        if isinstance(value, dict):
            for key, item in value.items():
                yield from secrets_in(item, f"{path}.{key}")
        elif isinstance(value, str) and any(
                word in path.upper() for word in ("PASSWORD", "SECRET", "DATABASE_URL")):
            yield path, value

    found = list(secrets_in(compose()["services"]))
    assert len(found) >= 5
    assert [(p, v) for p, v in found if ":?" not in v] == []


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the machine's server, dropped afterwards."""
    name = f"dtle_deploy_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(f"{POSTGRES}/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    yield f"{POSTGRES}/{name}"
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


def service_command(name: str) -> list[str]:
    """The compose service's command as the image runs it: through its entrypoint."""
    return [str(ENTRYPOINT), *compose()["services"][name]["command"]]


def test_the_entrypoint_roles_run_the_api_a_worker_and_beat(postgres_url: str,
                                                            tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "DTLE_DATABASE_URL": postgres_url, "DTLE_REDIS_URL": E2E_REDIS_URL,
           "DTLE_SECRET_KEY": secrets.token_urlsafe(32), "DTLE_DATA_DIR": str(tmp_path),
           "DTLE_API_BIND": f"127.0.0.1:{port}", "DTLE_GUNICORN_WORKERS": "1",
           "DTLE_WORKER_CONCURRENCY": "2", "PYTHONUNBUFFERED": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    processes = []
    try:
        for name in ("api", "node1", "beat"):
            log = open(tmp_path / f"{name}.log", "wb")
            processes.append(subprocess.Popen(service_command(name), cwd=ROOT, env=env,
                                              stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True))
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _status(base + "/health") == 200, 90, "gunicorn to answer /health")
        health = compose()["services"]["api"]["healthcheck"]["test"][1:]
        probe = [part.replace("8190", str(port)) for part in health]
        assert subprocess.run(probe, env=env, timeout=30).returncode == 0
        password = secrets.token_urlsafe(16)
        subprocess.run([str(ENTRYPOINT), "manage", "createsuperuser", "--noinput",
                        "--username", "ops", "--email", "ops@localhost"], cwd=ROOT, check=True,
                       env={**env, "DJANGO_SUPERUSER_PASSWORD": password})
        cluster = Cluster(tmp_path, E2E_REDIS_URL)
        cluster.api_port = port
        cluster.token = cluster.login("ops", password)
        wait_for(lambda: [n["node_status"] for n in cluster.get("/v2/nodes")["nodes"]] == [
            "ready"], 90, "the worker to register")
        wait_for(lambda: "Sending due task scheduler-tick" in (tmp_path / "beat.log").read_text(),
                 30, "beat to send the scheduler's tick")
        for name in ("beat", "node1"):  # their health checks, as the container runs them
            check = compose()["services"][name]["healthcheck"]["test"][1].replace("$$", "$")
            assert subprocess.run(["sh", "-c", check], cwd=ROOT, env=env,
                                  timeout=60).returncode == 0, name
        access = (tmp_path / "api.log").read_text()
        assert '"GET /health" 200' in access and "gunicorn" in access.lower()
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except OSError:
        return 0

