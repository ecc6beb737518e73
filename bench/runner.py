"""A run: prepare a fresh state once, then measure each scenario on a server of its own.

For each scenario, in order:

1. start its server (Mainspring or the baseline) on a free loopback port, pinned to the
   server's CPUs, and wait until it answers;
2. run the scenario's seed step, if it has one, against that live server;
3. send its request twice with httpx: it must answer the expected status (otherwise the
   scenario is wrong, and the run stops), and the second's ``X-DB-Statements`` header says how
   many SQL statements one request costs once the server is warm;
4. warm up with wrk (caches, connection pools, lazily built code paths), results discarded;
5. measure with wrk, pinned to the other CPUs, then read the server's peak memory;
6. stop the server's whole process group.

A fresh server per scenario keeps one scenario's memory and warm state out of the next one's
figures. The database is shared by the run: scenarios that create data see what earlier ones
created, in declaration order.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench import backends, wrk
from bench.errors import BenchError
from bench.machine import PROJECT_ROOT, Machine
from bench.processes import CpuPlan, free_port, serve
from bench.scenarios import Request, Scenario, select
from bench.seeds.context import Seed, SeedContext, SeedValues

READY_PATHS = {"app": "/healthz", "baseline": "/json"}
MIB = 1024 * 1024
BUSY_LOAD_AVERAGE = 0.5
PROBES = 2
STORM_MARGIN_SECONDS = 2
"""The storm of a mixed scenario starts this long before the measured load (half of it) and
ends after it (the other half)."""

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    """The default progress reporter: says nothing."""


@dataclass(frozen=True)
class Options:
    """How to run: which scenarios (all when empty), how long, how hard, on what."""

    scenarios: tuple[str, ...] = ()
    duration: int = 10
    warmup: int = 2
    connections: int = 64
    workers: int = 1
    database: str = "sqlite"
    redis: str | None = None
    size: int = 1000

    def __post_init__(self) -> None:
        for name, least in (("duration", 1), ("connections", 1), ("workers", 1)):
            if getattr(self, name) < least:
                raise BenchError(f"--{name} must be at least {least}")
        for name in ("warmup", "size"):
            if getattr(self, name) < 0:
                raise BenchError(f"--{name} cannot be negative")


@dataclass(frozen=True)
class Bench:
    """What every scenario of a run shares: the options, the state and the CPU plan."""

    options: Options
    workdir: Path
    database_url: str
    env: dict[str, str]
    cpus: CpuPlan


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    request: str
    expect: int
    bound_by: str
    baseline: str | None
    requests: int
    requests_per_second: float
    ratio: float | None
    """Requests per second divided by the baseline's (None for the baselines themselves)."""
    latency_ms: wrk.Latency
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    errors: int
    statements: int | None
    """SQL statements of one request (None when the server does not say: the baseline)."""
    peak_memory_mib: float
    storm: StormResult | None = None
    """What the storm of a mixed scenario did meanwhile (None for the others)."""

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.requests > 0 and (self.storm is None or self.storm.ok)


@dataclass(frozen=True)
class StormResult:
    """The storm of a mixed scenario: its request, connections, pace and errors."""

    name: str
    connections: int
    requests_per_second: float
    errors: int
    statuses: dict[int, int]

    @property
    def ok(self) -> bool:
        return self.errors == 0


@dataclass(frozen=True)
class RunResult:
    started_at: str
    load_average: float
    """The machine's 1-minute load average when the run started: near 0 on a quiet machine;
    other work running at the same time makes the figures worthless."""
    options: Options
    database: str
    database_url: str
    cpus: CpuPlan
    machine: Machine
    scenarios: list[ScenarioResult]

    @property
    def key(self) -> str:
        """What this run's figures are comparable with: ``sqlite-1-worker``,
        ``postgresql-redis-2-workers``."""
        redis = "-redis" if self.options.redis else ""
        workers = self.options.workers
        return f"{self.database}{redis}-{workers}-worker{'s' if workers > 1 else ''}"

    @property
    def failures(self) -> list[str]:
        return [
            f"{result.name}: {result.errors} errors in {result.requests} requests "
            f"(statuses {result.statuses}, socket errors {result.socket_errors})"
            + (
                f"; its storm `{result.storm.name}`: {result.storm.errors} errors "
                f"(statuses {result.storm.statuses})"
                if result.storm is not None and not result.storm.ok
                else ""
            )
            for result in self.scenarios
            if not result.ok
        ]


def run(options: Options, progress: Progress = _quiet) -> RunResult:
    """Measure the chosen scenarios (and their baselines) from a fresh state."""
    chosen = select(options.scenarios)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    load_average = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mainspring-bench-") as tmp:
        bench = prepare(options, Path(tmp))
        progress(
            f"{backends.dialect(bench.database_url)}, workers: {options.workers}, "
            f"{options.connections} connections, {options.duration} s per scenario; "
            f"{bench.cpus.describe()}"
        )
        if load_average > BUSY_LOAD_AVERAGE:
            progress(
                f"warning: load average {load_average:.2f}: other work is running, "
                "the figures will be low and noisy"
            )
        results: list[ScenarioResult] = []
        for scenario in chosen:
            result = run_scenario(scenario, bench, results)
            progress(_summary(result))
            results.append(result)
    return RunResult(
        started_at=started_at,
        load_average=round(load_average, 2),
        options=options,
        database=backends.dialect(bench.database_url),
        database_url=backends.redact(bench.database_url),
        cpus=bench.cpus,
        machine=Machine.describe(),
        scenarios=results,
    )


def prepare(options: Options, workdir: Path) -> Bench:
    """The fresh state of a run, in ``workdir``: database emptied and migrated, Redis flushed."""
    wrk.require()
    database_url = backends.database_url(options.database, workdir)
    backends.reset(database_url, options.redis)
    env = backends.server_environment(database_url, options.redis)
    backends.migrate(env, workdir)
    return Bench(options, workdir, database_url, env, CpuPlan.detect())


def server_command(scenario: Scenario, port: int, workers: int) -> list[str]:
    """The server of a scenario: ``mainspring serve``, or the same uvicorn on the baseline app."""
    common = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if scenario.target == "app":
        # No demo data: `serve` writes it into an empty SQLite database, never into PostgreSQL,
        # and the two would no longer start from the same state.
        return [sys.executable, "-m", "mainspring", "serve", *common, "--no-migrate", "--no-demo"]
    # The options `mainspring serve` gives uvicorn, so that only the application differs.
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.baseline:app",
        *common,
        "--app-dir",
        str(PROJECT_ROOT),
        "--no-access-log",
        "--no-server-header",
        "--no-proxy-headers",
        "--log-level",
        "warning",
    ]


def run_scenario(
    scenario: Scenario, bench: Bench, earlier: Sequence[ScenarioResult] = ()
) -> ScenarioResult:
    """Measure one scenario on a server of its own (see the module's docstring for the steps).

    ``earlier`` are the run's results so far, where this scenario's baseline is found (the
    baselines run first).
    """
    options = bench.options
    port = free_port()
    with serve(
        bench.cpus.pin(bench.cpus.server, server_command(scenario, port, options.workers)),
        env=bench.env,
        cwd=bench.workdir,
        port=port,
        ready_path=READY_PATHS[scenario.target],
    ) as server:
        values: SeedValues = {}
        if scenario.seed is not None:
            values = asyncio.run(_seed(scenario.seed, server.base_url, bench))
        request = scenario.request(values)
        statements = probe(server.base_url, request, scenario)
        storm = storm_request = None
        if scenario.storm is not None:
            storm_request = scenario.storm.request(values)
            probe(server.base_url, storm_request, scenario.storm)

        connections = scenario.connections or options.connections

        def drive(duration: int, offset: int = 0) -> wrk.Load:
            return wrk.run(
                server.base_url,
                request,
                duration=duration,
                connections=connections,
                cpus=bench.cpus,
                offset=offset,
            )

        with ThreadPoolExecutor(max_workers=1) as stormer:
            storming = None
            if scenario.storm is not None and storm_request is not None:
                # The storm starts first and ends last: warm-up and load both run inside it.
                storming = stormer.submit(
                    wrk.run,
                    server.base_url,
                    storm_request,
                    duration=options.warmup + options.duration + STORM_MARGIN_SECONDS,
                    connections=scenario.storm_connections,
                    cpus=bench.cpus,
                )
                time.sleep(STORM_MARGIN_SECONDS / 2)
            # The load run goes on in the pools where the warm-up stopped (plus the requests
            # it may have sent unanswered), so that a value one request uses up (a buyer's
            # cart) is not met again.
            offset = drive(options.warmup).requests + connections if options.warmup > 0 else 0
            load = drive(options.duration, offset)
            if storming is not None and scenario.storm is not None:
                storm_load = storming.result()
                storm = StormResult(
                    name=scenario.storm.name,
                    connections=scenario.storm_connections,
                    requests_per_second=round(storm_load.requests_per_second, 1),
                    errors=storm_load.errors(scenario.storm.expect),
                    statuses=storm_load.statuses,
                )
        peak_memory = server.peak_memory_bytes()
    baselines = {result.name: result.requests_per_second for result in earlier}
    ceiling = baselines.get(scenario.baseline) if scenario.baseline else None
    return ScenarioResult(
        name=scenario.name,
        request=scenario.label,
        expect=scenario.expect,
        bound_by=scenario.bound_by,
        baseline=scenario.baseline,
        requests=load.requests,
        requests_per_second=round(load.requests_per_second, 1),
        ratio=round(load.requests_per_second / ceiling, 5) if ceiling else None,
        latency_ms=load.latency_ms,
        statuses=load.statuses,
        socket_errors=load.socket_errors,
        errors=load.errors(scenario.expect),
        statements=statements,
        peak_memory_mib=round(peak_memory / MIB, 1),
        storm=storm,
    )


async def _seed(seed: Seed, base_url: str, bench: Bench) -> SeedValues:
    options = bench.options
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0) as client:
        context = SeedContext(
            client=client,
            size=options.size,
            database_url=bench.database_url,
            seconds=options.warmup + options.duration,
            workers=options.workers,
        )
        values = await seed(context)
        await context.refresh_statistics()
        return values


def probe(base_url: str, request: Request, scenario: Scenario) -> int | None:
    """Send the request twice, as wrk's first request would be: check both statuses, return
    the SQL statement count of the second.

    The first request meets a cold server: the token's session state is not cached yet, so it
    costs a query that no later request of the run pays. The second shows the steady state.
    The probes take their pools' last values (turns -1, -2), which wrk reaches last, if ever: a
    value that one request uses up (a buyer's cart, emptied by a checkout) is still there for
    wrk's first requests.
    """
    statements = None
    for index in range(PROBES):
        concrete = request.concrete(f"probe-{secrets.token_hex(4)}", turn=-(index + 1))
        response = httpx.request(
            concrete.method,
            base_url + concrete.path,
            headers=dict(concrete.headers),
            content=concrete.body,
            timeout=30.0,
        )
        if response.status_code != scenario.expect:
            raise BenchError(
                f"{scenario.name}: {scenario.label} answered {response.status_code}, "
                f"expected {scenario.expect}: {response.text[:500]}"
            )
        statements = response.headers.get("x-db-statements")
    return int(statements) if statements is not None else None


def _summary(result: ScenarioResult) -> str:
    latency = result.latency_ms
    ratio = f" ({result.ratio:.2g} of {result.baseline})" if result.ratio is not None else ""
    return (
        f"{result.name:<20} {result.requests_per_second:>9.0f} req/s{ratio}  "
        f"p50 {latency.p50:.2f} ms  p99 {latency.p99:.2f} ms  errors {result.errors}"
    )
