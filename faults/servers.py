"""The processes the fault suite owns: a PostgreSQL cluster, a Redis server, the service.

Each runs on a free loopback port under the suite's temporary directory (never a shared
server), and is stopped by the suite, whatever happens. PostgreSQL refuses to run as root: as
root, its commands run as the ``postgres`` user, like ``.ci/run`` does.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pg_bin() -> Path:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    for candidate in reversed(candidates):
        if (candidate / "pg_ctl").exists():
            return candidate
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise SystemExit("PostgreSQL binaries (initdb, pg_ctl) not found: apt-get install postgresql")


class Postgres:
    """A throwaway cluster: ``start``, ``stop``, ``restart`` as an operator would."""

    def __init__(self, root: Path) -> None:
        self.bin = _pg_bin()
        self.data = root / "pg"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://mainspring@127.0.0.1:{self.port}/mainspring"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "postgres", str(self.data)], check=False)
            command = ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(command)]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            subprocess.run(["id", "postgres"], check=True, capture_output=True)
            os.chmod(self.data.parent, 0o777)
        self.data.mkdir()
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "mainspring",
            "--auth=trust", "-E", "UTF8",
        )  # fmt: skip
        self.start()
        subprocess.run(
            [str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", "mainspring", "mainspring"],
            check=True, capture_output=True,
        )  # fmt: skip

    def _ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-h 127.0.0.1 -p {self.port} -k {self.data} -c fsync=off "
            "-c synchronous_commit=on -c max_connections=100"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.data / "server.log"),
            "-w", "-t", "60", "-o", options, *extra, action,
        )  # fmt: skip

    def start(self) -> None:
        self._ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("stop", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        self._ctl("restart", "-m", mode)

    def accepts(self) -> bool:
        return _port_open(self.port)

    def cleanup(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                      "stop", check=False)  # fmt: skip


class Redis:
    """A Redis server without persistence, as a child process (SIGKILL is a real crash)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.root)],  # never a stray dump.rdb of the cwd
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until(lambda: _port_open(self.port), 10, "Redis did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def cleanup(self) -> None:
        self.kill()


class Service:
    """``mainspring serve --workers 2`` with the suite's environment."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def command(self, *args: str) -> None:
        """A ``mainspring`` command (migrate...) with the service's environment."""
        subprocess.run(
            [sys.executable, "-m", "mainspring", *args], env=self.env, check=True,
            capture_output=True, timeout=180,
        )  # fmt: skip

    def start(self) -> float:
        """Start and wait until ``/healthz`` answers; the seconds that took."""
        self.starts += 1
        log = open(self.root / f"service-{self.starts}.log", "ab")  # noqa: SIM115
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mainspring", "serve", "--workers", "2",
             "--port", str(self.port), "--no-migrate", "--no-demo"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        wait_until(self.healthy, 90, "the service did not start")
        return time.monotonic() - started

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def signal(self, signum: int) -> None:
        assert self.process is not None
        if signum == signal.SIGKILL:  # the whole server: supervisor and workers
            os.killpg(self.process.pid, signal.SIGKILL)
        else:
            self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        assert self.process is not None
        code = self.process.wait(timeout)
        self.process = None
        return code

    def cleanup(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            self.process = None


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(condition: object, timeout: float, message: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(message)
        time.sleep(0.1)
