"""A job's src and dest runners as their own processes (``python -m replication.cli``), for the
tests that SIGKILL one of them."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.support.redis_urls import REDIS_TEST_URL

ROOT = Path(__file__).resolve().parents[2]


def spawn_task(task: str, job_file: Path, log_dir: Path) -> subprocess.Popen[bytes]:
    """Start ``task`` ("src" or "dest") of the job in ``job_file``, appending to ``<task>.log``."""
    out = open(log_dir / f"{task}.log", "ab")  # noqa: SIM115 - lives as long as the process
    return subprocess.Popen([sys.executable, "-m", "replication.cli", task, "--job-config",
                             str(job_file), "--redis", REDIS_TEST_URL], cwd=ROOT, stdout=out, stderr=out)


def assert_running(procs: dict[str, subprocess.Popen[bytes]], log_dir: Path) -> None:
    """Fail, with the end of its log, if any of the processes has exited."""
    for task, proc in procs.items():
        assert proc.poll() is None, f"{task} exited: {(log_dir / f'{task}.log').read_text()[-3000:]}"


def stop_tasks(procs: dict[str, subprocess.Popen[bytes]], timeout: float = 10) -> None:
    """SIGTERM every process, then SIGKILL those still running after ``timeout`` seconds."""
    for proc in procs.values():
        proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
