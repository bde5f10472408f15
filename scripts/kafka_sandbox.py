"""A throw-away Kafka-protocol broker for tests and benchmarks: ``noida-db`` (a PyPI wheel) with
only its Kafka service, on a free port of 127.0.0.1, with its own data directory. It supports
consumer groups, idempotent and transactional producers and per-topic ``max.message.bytes``.

    with KafkaBroker() as broker:
        broker.bootstrap  # "127.0.0.1:PORT"
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from importlib.resources import files
from pathlib import Path
from types import TracebackType

from scripts.mariadb_sandbox import free_port, terminate_with_parent


def _binary() -> str:
    """The broker binary inside the noida-db wheel. Its ``noida-db`` command is a Python
    wrapper that runs the binary as a child and does not pass signals on: stopping the wrapper
    would leave the broker running."""
    try:
        binary = files("noida_db").joinpath("noida-db")
    except ModuleNotFoundError as exc:
        raise RuntimeError("noida-db is not installed (pip install -r requirements-dev.txt)") from exc
    path = str(binary)
    if not os.access(path, os.X_OK):
        os.chmod(path, 0o755)
    return path


class KafkaBroker:
    """One noida-db process serving Kafka."""

    def __init__(self, port: int | None = None, data_dir: str | Path | None = None) -> None:
        self.port = port or free_port()
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="dtle-kafka-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 30.0) -> KafkaBroker:
        log = open(self.data_dir / "broker.log", "ab")  # noqa: SIM115 - the process keeps it
        self._process = subprocess.Popen(
            [_binary(), "start", "--only", "kafka", "--kafka-port", str(self.port),
             "--data-dir", str(self.data_dir / "data")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=terminate_with_parent)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"noida-db exited: {(self.data_dir / 'broker.log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"noida-db did not listen on {self.port} within {timeout}s")

    def stop(self) -> None:
        """Stop the broker (its data stays until ``close``)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
