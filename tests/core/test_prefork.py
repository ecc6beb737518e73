"""`mainspring serve --workers N`: a supervisor and N forked workers (core/prefork.py), for real."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

START_TIMEOUT = 60.0


@pytest.fixture
def server_env(tmp_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("MAINSPRING_")}
    env.update(
        MAINSPRING_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'prefork.db'}",
        MAINSPRING_WORKER_IN_PROCESS="false",
        MAINSPRING_LOG_FORMAT="json",
        MAINSPRING_SHUTDOWN_GRACE_SECONDS="2",
    )
    return env


@pytest.fixture
def server(
    tmp_path: Path, server_env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``mainspring serve --workers 2`` (migrated, no demo data), its output in a file."""
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [sys.executable, "-m", "mainspring", "serve", "--workers", "2", "--port", str(port),
         "--no-demo"],
        cwd=tmp_path, env=server_env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _healthy(base), f"no 200 from {base}/healthz", process, tmp_path)
        _wait_until(lambda: len(_children(process.pid)) == 2, "2 workers", process, tmp_path)
        yield process, base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def test_the_workers_are_forks_of_the_server_and_a_dead_one_is_replaced(
    server: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    process, base = server
    workers = _children(process.pid)
    # Forked, not spawned: a worker runs the server's own command line (a spawned
    # multiprocessing child runs `python -c "from multiprocessing.spawn import spawn_main..."`).
    for pid in workers:
        assert _cmdline(pid) == _cmdline(process.pid)

    killed, kept = min(workers), max(workers)
    os.kill(killed, signal.SIGKILL)

    def replaced() -> bool:
        # One reading of the process table: the killed worker may still be alive in one
        # reading and a zombie in the next (SIGKILL is delivered asynchronously).
        now = _children(process.pid)
        return len(now) == 2 and killed not in now

    _wait_until(replaced, "a replacement worker", process, tmp_path)
    assert kept in _children(process.pid)  # the other worker was left alone
    for _ in range(10):
        assert httpx.get(f"{base}/healthz").status_code == 200
    assert b'"worker_exited"' in (tmp_path / "server.log").read_bytes()


def test_sigterm_drains_every_worker_and_exits_cleanly(
    server: tuple[subprocess.Popen[bytes], str], tmp_path: Path
) -> None:
    process, base = server
    workers = _children(process.pid)
    assert httpx.get(f"{base}/readyz").status_code == 200

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=30) == 0
    assert not any(_alive(pid) for pid in workers)
    log = (tmp_path / "server.log").read_bytes()
    assert log.count(b"Application shutdown complete.") == 2  # each worker ran its shutdown hooks
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/healthz")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _wait_until(
    condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not condition():
        log = (tmp_path / "server.log").read_text(errors="replace")
        assert process.poll() is None, f"the server exited waiting for {what}:\n{log}"
        assert time.monotonic() < deadline, f"no {what} in {START_TIMEOUT:.0f} s:\n{log}"
        time.sleep(0.1)


def _children(parent: int) -> set[int]:
    """The live (not zombie) processes whose parent is ``parent``."""
    children = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z":
            children.add(int(entry.name))
    return children


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
