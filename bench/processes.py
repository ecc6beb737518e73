"""The processes of a run: which CPUs each side gets, the server under test, and its memory.

A benchmark that runs the server and the load generator on the same CPU measures how they share
it, not how fast the server is. ``CpuPlan`` pins them apart with ``taskset``. ``serve`` starts a
server in its own process group (a session), waits until it answers, and on the way out stops
the whole group (the uvicorn supervisor *and* its workers), so nothing outlives a run, whatever
happened in it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from bench.errors import BenchError

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0
LOG_TAIL_LINES = 30


@dataclass(frozen=True)
class CpuPlan:
    """The CPUs of the server and of the load generator; empty tuples mean "not pinned".

    With two CPUs or more (and ``taskset``), the load generator gets the last quarter of them
    (at least one) and the server the rest. One wrk thread per CPU it has is plenty: wrk in C
    outpaces a Python server many times over.
    """

    server: tuple[int, ...] = ()
    load: tuple[int, ...] = ()

    @classmethod
    def detect(cls) -> CpuPlan:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2 or shutil.which("taskset") is None:
            return cls()
        load = max(1, len(cpus) // 4)
        return cls(server=tuple(cpus[:-load]), load=tuple(cpus[-load:]))

    @property
    def load_threads(self) -> int:
        return max(1, len(self.load))

    @staticmethod
    def pin(cpus: tuple[int, ...], argv: Sequence[str]) -> list[str]:
        """``argv`` run on ``cpus`` only (``taskset`` execs it: the pid stays the command's)."""
        if not cpus:
            return list(argv)
        return ["taskset", "--cpu-list", ",".join(map(str, cpus)), *argv]

    def describe(self) -> str:
        if not self.server:
            return "server and wrk not pinned (one CPU, or no taskset)"
        return f"server on CPU {_cpu_list(self.server)}, wrk on CPU {_cpu_list(self.load)}"


def _cpu_list(cpus: tuple[int, ...]) -> str:
    return ",".join(map(str, cpus))


def free_port() -> int:
    """A TCP port nothing listens on right now, on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def group_members(pgid: int) -> list[int]:
    """The live processes of a process group, read from ``/proc/<pid>/stat``.

    Zombies (ended, not yet reaped by their parent) are left out: they run nothing and hold
    no memory.
    """
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # "pid (command) state ppid pgrp ...": the command may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            members.append(int(entry.name))
    return members


def peak_memory_bytes(pids: Sequence[int]) -> int:
    """The sum of the processes' peak resident memory (``VmHWM``, the RSS high-water mark).

    Each process's own peak: for a server and its workers, an upper bound of their peak
    together, and exactly it for a single process.
    """
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) * 1024  # reported in kB
    return total


class OutputTail:
    """Drains a process's output from a pipe and keeps only its end, for error messages.

    A server logs every request. Written to a file, a log line now and then waits on the disk,
    and the whole event loop with it: the benchmark would measure the disk. A pipe read by
    this thread is what a container runtime gives a server in production; only the last
    ``keep`` bytes are kept, to show when the server fails.
    """

    def __init__(self, pipe: IO[bytes], keep: int = 16_384) -> None:
        self._fd = pipe.fileno()
        self._keep = keep
        self._tail = b""
        self._thread = threading.Thread(target=self._drain, name="server-output", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while chunk := os.read(self._fd, 65_536):
            self._tail = (self._tail + chunk)[-self._keep :]

    def count(self, marker: bytes) -> int:
        """How many times ``marker`` appears in the kept end of the output (a start-up's lines
        fit in it; a busy server's log pushes them out)."""
        return self._tail.count(marker)

    def text(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self._tail.decode(errors="replace").splitlines()[-lines:])

    def wait_closed(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Wait for the end of the output (every writer of the pipe has exited)."""
        self._thread.join(timeout)


class Server:
    """A running server process, its process group and the end of its output."""

    def __init__(self, process: subprocess.Popen[bytes], base_url: str) -> None:
        assert process.stdout is not None, "the server's output must be a pipe"
        self.process = process
        self.base_url = base_url
        self.output = OutputTail(process.stdout)
        self.pgid = process.pid  # a session leader's group id is its pid

    def members(self) -> list[int]:
        return group_members(self.pgid)

    def peak_memory_bytes(self) -> int:
        return peak_memory_bytes(self.members())

    def wait_ready(self, path: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Poll ``path`` until it answers 200; fail early if the server exits."""
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while True:
                code = self.process.poll()
                if code is not None:
                    self.output.wait_closed()
                    raise BenchError(f"the server exited with status {code}:\n{self.output.text()}")
                try:
                    if client.get(path).status_code == 200:
                        return
                except httpx.TransportError:
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    raise BenchError(f"the server did not answer in {timeout:.0f} s")
                time.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM to the whole group (a graceful shutdown), then SIGKILL whatever is left."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self._signal_and_wait(sig):
                break
        self.process.wait()
        self.output.wait_closed()
        assert self.process.stdout is not None
        self.process.stdout.close()

    def _signal_and_wait(self, sig: signal.Signals) -> bool:
        """Send ``sig`` to the group; whether the group is gone within the stop timeout."""
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:  # nothing left to signal
            return True
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None and not self.members():
                return True
            time.sleep(0.05)
        return False


def spawn(argv: Sequence[str], *, env: dict[str, str], cwd: Path, port: int) -> Server:
    """Start ``argv``, a server that will listen on ``port``, in a process group of its own
    (so that ``Server.stop`` ends its workers too), its output piped for the harness to read."""
    process = subprocess.Popen(
        list(argv),
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return Server(process, f"http://127.0.0.1:{port}")


@contextmanager
def serve(
    argv: Sequence[str], *, env: dict[str, str], cwd: Path, port: int, ready_path: str
) -> Iterator[Server]:
    """Start ``argv`` (a server listening on ``port``), wait until ``ready_path`` answers 200,
    and stop its whole process group when the block ends, normally or not."""
    server = spawn(argv, env=env, cwd=cwd, port=port)
    try:
        server.wait_ready(ready_path)
        yield server
    finally:
        server.stop()
