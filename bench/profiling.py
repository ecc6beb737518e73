"""``python -m bench.profiling SCENARIO``: where one request of a scenario spends its CPU.

wrk says how many requests a second the server answers; this says why. It builds the app once,
in this process, with the settings the benchmark's server runs with (``backends``), on a fresh
database seeded by the scenario's own seed step, then sends the scenario's request many times,
one after the other, through ``httpx.ASGITransport``, first plainly (the time per request, the
profiler's own overhead left out) and then under ``cProfile``, and prints the functions that
cost the most.

Through the ASGI transport there is no socket, no HTTP parser and no concurrency: what remains is
the application (middleware, routing, dependencies, the handler, the database driver,
serialisation, the access log) plus httpx's client side. httpx costs about 300 us a request
itself, more than the cheapest requests, so the request is also timed as a direct ASGI call
(``call_app``: a scope, a receive and a send, what uvicorn hands the app): "the app alone".
The profile is of those direct calls (``--driver httpx`` profiles through httpx instead). The
access log is written to ``/dev/null``: formatted as in production, with no disk behind it.

One request at a time is not how a server runs: under wrk's 64 connections, 64 requests are in
flight at once, and what grows with them (the garbage collector's work over everything they hold
alive, the pool's queue, the database threads) is missed. ``--concurrency N`` times the direct
calls with N in flight as well: "the app under load". Its CPU per request is the steadiest A/B
figure this machine gives (a shared VM, where wrk's req/s moves by 10 % from run to run).

    .venv/bin/python -m bench.profiling home-timeline --requests 2000 --size 100
    .venv/bin/python -m bench.profiling todo-task-list --sort cumulative --limit 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import logging
import math
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import unquote

import httpx

from bench import backends
from bench.errors import BenchError
from bench.scenarios import Request, Scenario, select
from bench.seeds.context import SeedContext, SeedValues
from bench.seeds.social import POSTS_PER_SECOND_CEILING

if TYPE_CHECKING:
    from starlette.types import ASGIApp

    from mainspring.core.config import Settings

WARMUP_REQUESTS = 50


@dataclass(frozen=True)
class Timing:
    """One request, unprofiled: its wall-clock time, and the CPU time of this process (the app,
    its database driver's threads, the client) meanwhile, which other work on a busy machine
    inflates far less."""

    seconds: float
    cpu_seconds: float


@dataclass(frozen=True)
class Timings:
    """The same request through httpx's ASGI transport, and as a direct ASGI call."""

    httpx: Timing
    app: Timing
    loaded: Timing | None = None
    """Direct calls with ``--concurrency`` of them in flight (None without the option)."""


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="python -m bench.profiling",
        description="Profile one scenario's request in-process (cProfile, httpx.ASGITransport).",
    )
    parse.add_argument("scenario", help="an app scenario of `python -m bench --list`")
    parse.add_argument("--requests", type=int, default=2000, help="requests measured")
    parse.add_argument("--size", type=int, default=1000, help="seed size, as `python -m bench`")
    parse.add_argument("--database", default="sqlite", help="`sqlite` or a PostgreSQL URL")
    parse.add_argument("--redis", help="Redis URL for the kernel services (its db is FLUSHED)")
    parse.add_argument(
        "--sort", default="tottime", choices=["tottime", "cumulative"], help="profile order"
    )
    parse.add_argument("--limit", type=int, default=40, help="functions shown")
    parse.add_argument(
        "--concurrency",
        type=int,
        default=0,
        help="also time the direct calls with this many in flight (wrk's runs use 64)",
    )
    parse.add_argument(
        "--driver",
        default="asgi",
        choices=["asgi", "httpx"],
        help="what sends the profiled requests: a direct ASGI call (the app alone) or httpx",
    )
    parse.add_argument(
        "--output", type=Path, help="also write the profile there (for pstats, snakeviz...)"
    )
    return parse


def settings_from_environment(env: dict[str, str], workdir: Path) -> Settings:
    """The server's settings (``backends.server_environment``) as one object, for an app built
    in this process; the development signing key is kept in ``workdir``, as the server's is."""
    from bench.settings import explicit_settings

    values: dict[str, object] = {
        name.removeprefix("MAINSPRING_").lower(): value
        for name, value in env.items()
        if name.startswith("MAINSPRING_")
    }
    values["jwt_keys_dir"] = workdir / "var"
    return explicit_settings(**values)


async def measure(
    scenario: Scenario,
    settings: Settings,
    size: int,
    requests: int,
    log: TextIO,
    driver: str = "asgi",
    concurrency: int = 0,
) -> tuple[Timings, cProfile.Profile]:
    """Seed, warm up, then time ``requests`` requests plainly, through httpx and as direct ASGI
    calls (and with ``concurrency`` direct calls in flight, unless 0), and profile as many again
    with ``driver``: the time per request (unprofiled) and the profile. The app logs to
    ``log``."""
    from mainspring.app import create_app

    with contextlib.redirect_stderr(log):
        app = create_app(settings)  # its log handler writes to what stderr is now
    # httpx logs each request it sends: the client's work, not the app's.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=60.0
        ) as client,
    ):
        values: SeedValues = {}
        if scenario.seed is not None:
            context = SeedContext(
                client=client,
                size=size,
                database_url=settings.database_url,
                # Enough posters for twice `requests` (timed, then profiled) and the warm-up.
                seconds=math.ceil((2 * requests + WARMUP_REQUESTS) / POSTS_PER_SECOND_CEILING),
            )
            values = await scenario.seed(context)
            await context.refresh_statistics()
        request = scenario.request(values)
        turns = iter(range(4 * requests + 3 * WARMUP_REQUESTS))

        async def through_httpx() -> None:
            await send(client, request, scenario, next(turns))

        async def direct() -> None:
            await call_app(app, request, scenario, next(turns))

        async def timed(one: Callable[[], Awaitable[None]], in_flight: int = 1) -> Timing:
            async def some(count: int) -> None:
                for _ in range(count):
                    await one()

            await some(WARMUP_REQUESTS)
            started, started_cpu = time.perf_counter(), time.process_time()
            shares = [requests // in_flight + (i < requests % in_flight) for i in range(in_flight)]
            await asyncio.gather(*(some(share) for share in shares))
            return Timing(
                seconds=(time.perf_counter() - started) / requests,
                cpu_seconds=(time.process_time() - started_cpu) / requests,
            )

        timings = Timings(httpx=await timed(through_httpx), app=await timed(direct))
        if concurrency:
            timings = replace(timings, loaded=await timed(direct, concurrency))
        profiled = direct if driver == "asgi" else through_httpx
        profile = cProfile.Profile()
        with profile:
            for _ in range(requests):
                await profiled()
    return timings, profile


async def call_app(app: ASGIApp, request: Request, scenario: Scenario, turn: int) -> None:
    """The request's ``turn``-th instance as one direct ASGI call, as uvicorn makes it (no
    client, no socket); it must answer the scenario's status."""
    concrete = request.concrete(f"profile-{turn}", turn)
    path, _, query = concrete.path.partition("?")
    body = (concrete.body or "").encode()
    headers = [(b"host", b"bench")]
    headers += [(name.lower().encode(), value.encode()) for name, value in concrete.headers.items()]
    if body:
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": concrete.method,
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("bench", 80),
    }
    complete = asyncio.Event()
    status = 0
    sent_body = False

    async def receive() -> dict[str, object]:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await complete.wait()
        return {"type": "http.disconnect"}

    async def send_message(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            complete.set()

    await app(scope, receive, send_message)
    if status != scenario.expect:
        raise BenchError(f"{scenario.name}: answered {status}, expected {scenario.expect}")


async def send(client: httpx.AsyncClient, request: Request, scenario: Scenario, turn: int) -> None:
    """The request's ``turn``-th instance, which must answer the scenario's status."""
    concrete = request.concrete(f"profile-{turn}", turn)
    response = await client.request(
        concrete.method, concrete.path, headers=dict(concrete.headers), content=concrete.body
    )
    if response.status_code != scenario.expect:
        raise BenchError(
            f"{scenario.name}: answered {response.status_code}, expected {scenario.expect}: "
            f"{response.text[:500]}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        [scenario] = [s for s in select([args.scenario]) if s.name == args.scenario]
        if scenario.target != "app":
            raise BenchError(f"{scenario.name} is a baseline: there is no app to profile")
        with tempfile.TemporaryDirectory(prefix="mainspring-profile-") as tmp:
            workdir = Path(tmp)
            database_url = backends.database_url(args.database, workdir)
            backends.reset(database_url, args.redis)
            env = backends.server_environment(database_url, args.redis)
            backends.migrate(env, workdir)
            settings = settings_from_environment(env, workdir)
            with open(os.devnull, "w") as devnull:
                timings, profile = asyncio.run(
                    measure(
                        scenario,
                        settings,
                        args.size,
                        args.requests,
                        devnull,
                        args.driver,
                        args.concurrency,
                    )
                )
    except BenchError as exc:
        print(f"bench.profiling: {exc}", file=sys.stderr)
        return 2
    print(
        f"{scenario.name}: {scenario.label} -> {scenario.expect} on "
        f"{backends.dialect(database_url)}{' + Redis' if args.redis else ''}, "
        f"{args.requests} requests one at a time, in-process, unprofiled:\n"
        f"  the app alone (direct ASGI call): {_per_request(timings.app)}\n"
        f"  through httpx's ASGI transport:   {_per_request(timings.httpx)}"
    )
    if timings.loaded is not None:
        print(f"  the app under load, {args.concurrency} in flight: {_per_request(timings.loaded)}")
    print(f"profile: {args.driver}\n")
    if args.output:
        profile.dump_stats(args.output)
    pstats.Stats(profile).sort_stats(args.sort).print_stats(args.limit)
    return 0


def _per_request(timing: Timing) -> str:
    return f"{timing.seconds * 1e6:,.0f} us a request ({timing.cpu_seconds * 1e6:,.0f} us of CPU)"


if __name__ == "__main__":
    sys.exit(main())
