"""``python -m bench.startup``: how long ``mainspring serve`` takes to answer, and its idle memory.

A deployment starts a replica, a crashed worker restarts, an autoscaler adds a pod: until the
new process answers, it serves nothing. This measures, for ``--workers N``, on a migrated
database (a new SQLite file, or the PostgreSQL database of ``--database``, its ``public``
schema dropped and migrated; ``--redis`` for the kernel services; no demo data, no migration
at start, as the load benchmark starts it):

- **to first 200**: from spawning ``python -m mainspring serve`` to the first 200 answer of
  ``/healthz`` (polled every 10 ms): interpreter start, imports, ``create_app``, the lifespan's
  start-up hooks, uvicorn listening;
- **all workers**: to the moment the last of the N workers has finished its start-up (its
  uvicorn "Application startup complete." line): until then, the others carry the load;
- **idle RSS** and **PSS**: each process's resident memory (``VmRSS``), and its proportional
  share (``Pss``: a page shared by k processes counts 1/k in each, so the sum over the
  processes is the memory they really take), once every worker answers and the server has
  been idle for a second; the supervisor of ``--workers N > 1`` is listed apart.

    .venv/bin/python -m bench.startup --workers 1 --runs 3
    .venv/bin/python -m bench.startup --workers 4
    .venv/bin/python -m bench.startup --workers 4 \
        --database postgresql+asyncpg://mainspring@127.0.0.1:5433/ms_d --redis redis://127.0.0.1:6390/4

Each run is a new server, stopped before the next starts; a first, unmeasured start compiles
the bytecode (into a cache of the harness's, ``PYTHONPYCACHEPREFIX``, even where the shell sets
``PYTHONDONTWRITEBYTECODE``): a production image ships compiled bytecode
(``UV_COMPILE_BYTECODE=1``), and compiling Mainspring and its dependencies from source takes
longer than the rest of the start together. Run it on a quiet machine: imports are disk and
CPU, and another process's load shows directly in the figure.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import backends
from bench.errors import BenchError
from bench.machine import PROJECT_ROOT
from bench.processes import Server, free_port, group_members, spawn

POLL_SECONDS = 0.01
TIMEOUT_SECONDS = 60.0
SETTLE_SECONDS = 1.0
MIB = 1024 * 1024
STARTED = b"Application startup complete."
"""uvicorn's line when a worker's lifespan start-up has finished."""
PYCACHE = PROJECT_ROOT / "bench" / "results" / "pycache"
"""The compiled bytecode of the measured servers (``bench/results`` is git-ignored)."""


@dataclass(frozen=True)
class Startup:
    """One start of the server."""

    seconds_to_first_200: float
    seconds_to_all_workers: float
    worker_rss_mib: tuple[float, ...]
    """Each worker's resident memory, idle (the only process with one worker)."""
    worker_pss_mib: tuple[float, ...]
    """Each worker's proportional share of it (its shared pages divided among their users)."""
    supervisor_rss_mib: float | None
    """The supervisor's, with ``--workers`` above 1."""
    supervisor_pss_mib: float | None = None


def resident_mib(pid: int) -> float:
    """``VmRSS`` of ``pid`` in MiB (0 when it is gone)."""
    return _field_mib(f"/proc/{pid}/status", "VmRSS:")


def proportional_mib(pid: int) -> float:
    """``Pss`` of ``pid`` in MiB: its pages, each divided by the processes sharing it."""
    return _field_mib(f"/proc/{pid}/smaps_rollup", "Pss:")


def _field_mib(path: str, field: str) -> float:
    try:
        text = Path(path).read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith(field):
            return int(line.split()[1]) * 1024 / MIB  # reported in kB
    return 0.0


def start_once(workers: int, env: dict[str, str], workdir: Path) -> Startup:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "mainspring",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-migrate",
        "--no-demo",
    ]
    started = time.perf_counter()
    server = spawn(argv, env=env, cwd=workdir, port=port)
    try:
        elapsed = _first_200(server, started)
        all_started = _all_started(server, started, workers)
        _wait_for_workers(server, workers)
        time.sleep(SETTLE_SECONDS)
        members = server.members()
        supervisor = supervisor_pss = None
        if workers > 1:
            supervisor = resident_mib(server.process.pid)
            supervisor_pss = proportional_mib(server.process.pid)
            members = [pid for pid in members if pid != server.process.pid]
        return Startup(
            seconds_to_first_200=elapsed,
            seconds_to_all_workers=all_started,
            worker_rss_mib=tuple(sorted(round(resident_mib(pid), 1) for pid in members)),
            worker_pss_mib=tuple(sorted(round(proportional_mib(pid), 1) for pid in members)),
            supervisor_rss_mib=round(supervisor, 1) if supervisor is not None else None,
            supervisor_pss_mib=round(supervisor_pss, 1) if supervisor_pss is not None else None,
        )
    finally:
        server.stop()


def _first_200(server: Server, started: float) -> float:
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while True:
            if server.process.poll() is not None:
                server.output.wait_closed()
                raise BenchError(f"the server exited:\n{server.output.text()}")
            try:
                if client.get("/healthz").status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            if time.perf_counter() - started > TIMEOUT_SECONDS:
                raise BenchError(f"no 200 from /healthz in {TIMEOUT_SECONDS:.0f} s")
            time.sleep(POLL_SECONDS)


def _all_started(server: Server, started: float, workers: int) -> float:
    """Seconds from the spawn until ``workers`` start-up lines were written."""
    while server.output.count(STARTED) < workers:
        if server.process.poll() is not None:
            raise BenchError(f"the server exited:\n{server.output.text()}")
        if time.perf_counter() - started > TIMEOUT_SECONDS:
            raise BenchError(f"{workers} workers did not start in {TIMEOUT_SECONDS:.0f} s")
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - started


def _wait_for_workers(server: Server, workers: int) -> None:
    """Until the group holds every worker (and the supervisor), each past its imports."""
    expected = workers + (1 if workers > 1 else 0)
    deadline = time.perf_counter() + TIMEOUT_SECONDS
    while len(group_members(server.pgid)) < expected and time.perf_counter() < deadline:
        time.sleep(POLL_SECONDS)
    with httpx.Client(base_url=server.base_url, timeout=5.0) as client:
        for _ in range(4 * workers):  # a few answers, spread by the kernel over the workers
            client.get("/healthz")


def main(argv: Sequence[str] | None = None) -> int:
    parse = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    parse.add_argument("--workers", type=int, default=1)
    parse.add_argument("--runs", type=int, default=3)
    parse.add_argument("--database", default="sqlite", help="`sqlite` or a PostgreSQL URL")
    parse.add_argument("--redis", default=None, help="Redis URL for the kernel services")
    args = parse.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="mainspring-startup-") as tmp:
            workdir = Path(tmp)
            url = backends.database_url(args.database, workdir)
            backends.reset(url, args.redis)
            env = backends.server_environment(url, args.redis)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
            backends.migrate(env, workdir)
            start_once(args.workers, env, workdir)  # compiles the bytecode: not measured
            runs = [start_once(args.workers, env, workdir) for _ in range(args.runs)]
    except BenchError as exc:
        print(f"bench.startup: {exc}", file=sys.stderr)
        return 2
    times = [run.seconds_to_first_200 for run in runs]
    all_times = [run.seconds_to_all_workers for run in runs]
    print(
        f"mainspring serve --workers {args.workers} ({backends.dialect(url)}"
        f"{' + Redis' if args.redis else ''}): first 200 after "
        f"{statistics.median(times):.2f} s (median of {len(runs)}: "
        f"{', '.join(f'{t:.2f}' for t in times)}); every worker started after "
        f"{statistics.median(all_times):.2f} s ({', '.join(f'{t:.2f}' for t in all_times)})"
    )
    for number, run in enumerate(runs, 1):
        supervisor = (
            f", supervisor RSS {run.supervisor_rss_mib} MiB, PSS {run.supervisor_pss_mib} MiB"
            if run.supervisor_rss_mib is not None
            else ""
        )
        print(
            f"  run {number}: idle RSS per worker {list(run.worker_rss_mib)} MiB, "
            f"PSS {list(run.worker_pss_mib)} MiB{supervisor}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
