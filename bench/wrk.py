"""Driving wrk: the command line for one scenario, and the figures its Lua ``done`` hook prints.

wrk's own text report rounds and changes units ("1.02ms", "12.3k"); ``lua/scenario.lua``
prints the raw figures as one JSON line instead, with the count of every status received, since
wrk itself only counts statuses over 399 and a scenario may expect a 404.

A request's pools (``Request.pools``) reach the script as files, one value a line, in a
directory that lives as long as the wrk run: hundreds of access tokens are too much for a
command line, and would show in ``ps``.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.errors import BenchError
from bench.processes import CpuPlan
from bench.scenarios import Request

SCRIPT = Path(__file__).resolve().parent / "lua" / "scenario.lua"
RESULT_MARKER = "BENCH-RESULT "
REQUEST_TIMEOUT = "10s"
"""A response slower than this is a timeout error (wrk's default, 2 s, is tight on a loaded
database)."""


@dataclass(frozen=True)
class Latency:
    """Latency percentiles over every request of the run, in milliseconds."""

    p50: float
    p90: float
    p99: float
    max: float
    mean: float


@dataclass(frozen=True)
class Load:
    """What wrk measured in one run."""

    duration_s: float
    requests: int
    latency_ms: Latency
    statuses: dict[int, int]
    socket_errors: dict[str, int]

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    def errors(self, expect: int) -> int:
        """Responses with another status than ``expect``, plus connect/read/write/timeout errors."""
        unexpected = sum(count for status, count in self.statuses.items() if status != expect)
        return unexpected + sum(self.socket_errors.values())


def require() -> str:
    """The wrk executable, or a ``BenchError`` saying how to install it."""
    path = shutil.which("wrk")
    if path is None:
        raise BenchError("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    return path


def version() -> str:
    """``wrk 4.1.0 [epoll]``-like: the first line of ``wrk --version``, without the copyright."""
    result = subprocess.run([require(), "--version"], capture_output=True, text=True, check=False)
    first_line = (result.stdout or result.stderr).splitlines()[0]
    return first_line.split(" Copyright")[0].strip()


def arguments(
    request: Request, threads: int, pool_files: Mapping[str, Path], offset: int = 0
) -> list[str]:
    """The script's arguments (after ``--``) for ``request``; see ``lua/scenario.lua``.

    ``threads`` is wrk's thread count (the pools' round-robin interleaves the threads);
    ``pool_files`` names the file holding each of the request's pools; ``offset`` is the turn
    the pools start at."""
    args = [
        f"prefix={secrets.token_hex(4)}",  # unique per wrk run: warm-up and load never collide
        f"threads={threads}",
        f"offset={offset}",
        f"method={request.method}",
        f"path={request.path}",
    ]
    args += [f"header={name}: {value}" for name, value in request.headers.items()]
    if request.body is not None:
        args.append(f"body={request.body}")
    args += [f"pool={name}={path}" for name, path in pool_files.items()]
    return args


def write_pools(request: Request, directory: Path) -> dict[str, Path]:
    """Each pool of ``request`` as ``<directory>/<name>.txt``, one value a line."""
    files = {}
    for name, values in request.pools.items():
        path = directory / f"{name}.txt"
        path.write_text("".join(f"{value}\n" for value in values))
        files[name] = path
    return files


def run(
    base_url: str,
    request: Request,
    *,
    duration: int,
    connections: int,
    cpus: CpuPlan,
    offset: int = 0,
) -> Load:
    """Send ``request`` for ``duration`` seconds over ``connections`` keep-alive connections,
    its pools from turn ``offset`` on."""
    threads = min(cpus.load_threads, connections)
    with tempfile.TemporaryDirectory(prefix="mainspring-wrk-") as pools:
        argv = cpus.pin(
            cpus.load,
            [
                require(),
                "--threads",
                str(threads),
                "--connections",
                str(connections),
                "--duration",
                f"{duration}s",
                "--timeout",
                REQUEST_TIMEOUT,
                "--script",
                str(SCRIPT),
                base_url,
                "--",
                *arguments(request, threads, write_pools(request, Path(pools)), offset),
            ],
        )
        result = subprocess.run(
            argv, capture_output=True, text=True, check=False, timeout=duration + 60
        )
    if result.returncode != 0:
        raise BenchError(f"wrk failed ({result.returncode}):\n{result.stderr}{result.stdout}")
    return parse(result.stdout)


def parse(output: str) -> Load:
    """The ``BENCH-RESULT`` line of wrk's output, with microseconds turned into milliseconds."""
    for line in output.splitlines():
        if line.startswith(RESULT_MARKER):
            data = json.loads(line.removeprefix(RESULT_MARKER))
            break
    else:
        raise BenchError(f"wrk printed no {RESULT_MARKER.strip()} line:\n{output}")
    latency = {name: value / 1000 for name, value in data["latency_us"].items()}
    return Load(
        duration_s=data["duration_us"] / 1_000_000,
        requests=data["requests"],
        latency_ms=Latency(**latency),
        statuses={int(status): count for status, count in data["statuses"].items()},
        socket_errors=data["socket_errors"],
    )
