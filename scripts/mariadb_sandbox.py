"""Throw-away MariaDB servers for tests, benchmarks and the demo.

Each server gets its own data directory and a free port on 127.0.0.1, binlog on in ROW format
with FULL row images and a distinct server id, root without a password. Row metadata in the
binlog is MariaDB's default, NO_LOG (no column names: the engine tracks the schema), unless
``row_metadata`` says MINIMAL or FULL. Given ``tls`` files it accepts TLS connections only
(``require_secure_transport``). Usable as a context manager or from the command line::

    python -m scripts.mariadb_sandbox start DIR --server-id 1   # prints the port
    python -m scripts.mariadb_sandbox stop DIR
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import pymysql

from scripts.tls_certs import TLSFiles

MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"


def terminate_with_parent() -> None:
    """In the child before exec: ask Linux to send SIGTERM when the starting process dies, so
    a killed test run or demo leaves no server behind."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MariaDBServer:
    """One mariadbd process with its own data directory."""

    def __init__(
        self,
        base_dir: str | Path | None = None,
        server_id: int = 1,
        port: int | None = None,
        log_bin: bool = True,
        extra_args: tuple[str, ...] = (),
        stop_with_parent: bool = True,
        row_metadata: str = "NO_LOG",
        tls: TLSFiles | None = None,
    ) -> None:
        self._owns_dir = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="dtle-mariadb-"))
        self.server_id = server_id
        self.port = port or free_port()
        self.log_bin = log_bin
        self.extra_args = extra_args
        self.row_metadata = row_metadata
        self.stop_with_parent = stop_with_parent
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def datadir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_path(self) -> Path:
        return self.base_dir / "mysqld.sock"

    def start(self, timeout: float = 60.0) -> MariaDBServer:
        if not (self.datadir / "mysql").exists():
            self.datadir.mkdir(parents=True, exist_ok=True)
            (self.base_dir / "tmp").mkdir(exist_ok=True)
            subprocess.run(
                [INSTALL_DB, "--no-defaults", f"--datadir={self.datadir}", "--user=root",
                 f"--tmpdir={self.base_dir / 'tmp'}",
                 "--auth-root-authentication-method=normal", "--skip-test-db"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        tmpdir = self.base_dir / "tmp"  # private: nothing else cleaning /tmp can pull files away
        tmpdir.mkdir(exist_ok=True)
        args = [
            MARIADBD, "--no-defaults", "--user=root", f"--datadir={self.datadir}", f"--tmpdir={tmpdir}",
            f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.socket_path}",
            f"--pid-file={self.base_dir / 'mysqld.pid'}", f"--log-error={self.base_dir / 'error.log'}",
            f"--server-id={self.server_id}", "--innodb-buffer-pool-size=256M",
            "--innodb-flush-log-at-trx-commit=2", "--sync-binlog=0", "--skip-name-resolve",
            "--max-allowed-packet=256M", "--innodb-log-file-size=256M", "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_general_ci", "--max-connections=500",
        ]
        if self.tls is not None:
            args += [f"--ssl-ca={self.tls.ca}", f"--ssl-cert={self.tls.server_cert}",
                     f"--ssl-key={self.tls.server_key}", "--require-secure-transport=ON"]
        if self.log_bin:
            args += [f"--log-bin={self.datadir / 'mysql-bin'}", "--binlog-format=ROW",
                     "--binlog-row-image=FULL", "--log-slave-updates",
                     f"--binlog-row-metadata={self.row_metadata}"]
        self.process = subprocess.Popen(
            [*args, *self.extra_args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=terminate_with_parent if self.stop_with_parent else None,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                log = (self.base_dir / "error.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"mariadbd exited with {self.process.returncode}: {log}")
            try:
                self.connect().close()
                return self
            except pymysql.err.OperationalError:
                time.sleep(0.2)
        raise RuntimeError(f"mariadbd on port {self.port} did not start in {timeout}s")

    def connect(self, database: str | None = None, **kwargs: Any) -> pymysql.connections.Connection:
        if self.tls is not None:
            kwargs = {"ssl_ca": str(self.tls.ca), "ssl_verify_cert": True, **kwargs}
        return pymysql.connect(host="127.0.0.1", port=self.port, user="root", password="",
                               database=database, autocommit=True, charset="utf8mb4", **kwargs)

    def execute(self, sql: str, args: object = None) -> list[tuple[object, ...]]:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        finally:
            conn.close()

    def purge_binary_logs_to(self, name: str, timeout: float = 30.0) -> None:
        """``PURGE BINARY LOGS TO name``, repeated until the older files are gone: MariaDB keeps
        a file until its binlog checkpoint has moved past it, which happens asynchronously."""
        deadline = time.monotonic() + timeout
        while True:
            self.execute(f"PURGE BINARY LOGS TO '{name}'")
            if self.execute("SHOW BINARY LOGS")[0][0] == name:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"binlog files before {name} were not purged in {timeout}s")
            time.sleep(0.2)

    def connection_config(self) -> dict[str, object]:
        """The ``mysql_connection_config`` object of a job for this server."""
        config: dict[str, object] = {"mysql_host": "127.0.0.1", "mysql_port": self.port,
                                     "mysql_user": "root", "mysql_password": ""}
        if self.tls is not None:
            config["mysql_ssl_ca"] = str(self.tls.ca)
        return config

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None

    def destroy(self) -> None:
        self.stop()
        if self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> MariaDBServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.destroy()


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("dir")
    parser.add_argument("--server-id", type=int, default=1)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    base = Path(args.dir)
    if args.action == "start":
        base.mkdir(parents=True, exist_ok=True)
        server = MariaDBServer(base, server_id=args.server_id, port=args.port or None,
                               stop_with_parent=False)
        server.start()
        (base / "port").write_text(str(server.port))
        print(server.port)
    else:
        pid_file = base / "mysqld.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGTERM)
            for _ in range(300):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)


if __name__ == "__main__":
    _main()
