"""``python -m bench.chat``: what one chat server process holds and how fast it fans out.

Two measurements against a real ``mainspring serve --workers 1`` on a fresh database (SQLite,
or ``--database postgresql+asyncpg://...`` with ``--redis redis://...``):

- ``idle``: open ``--sockets`` authenticated WebSockets (one account, each socket past its
  ``ready``) and report the server process's resident memory before and after, per socket.
  The issue's target: 10,000 idle sockets in one worker within 1 GiB.
- ``fanout``: ``--members`` accounts join one public room and each holds a subscribed socket;
  one member sends ``--messages`` messages, one every ``--interval`` seconds, and every member
  records when each arrives. Reported: the latency from send to receipt over every delivery
  (p50, p99, max) and, per message, until the last member had it.

    .venv/bin/python -m bench.chat idle --sockets 10000
    .venv/bin/python -m bench.chat fanout --members 1000 --messages 30

The clients run in this one Python process, on the same machine: their own work (parsing 1,000
frames per message) is part of the figure, so the fan-out latency is an upper bound. The
accounts use the cheapest Argon2id parameters (the bench signs a thousand people in), which
the server accepts outside production only. Run on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench import backends
from bench.errors import BenchError
from bench.processes import Server, free_port, spawn
from bench.startup import resident_mib

PASSWORD = "bench passphrase 42 long enough"  # noqa: S105 - throwaway bench accounts
CONNECT_BATCH = 100
"""Sockets connected together (``--batch``); in ``fanout``, then subscribed together."""
CONNECT_ATTEMPTS = 12
BACKOFF_CAP_SECONDS = 30.0

MIB = 1024 * 1024


def _backoff(retry_after: float, attempt: int) -> float:
    """How long to wait before retry number ``attempt`` (0, 1...): the server's ``retry_after``
    doubled each time, capped, with jitter, so that a thousand clients refused together do not
    all come back in the same second."""
    delay = min(BACKOFF_CAP_SECONDS, retry_after * 2**attempt)
    return float(delay * random.uniform(0.5, 1.5))


def _server(args: argparse.Namespace, workdir: Path) -> tuple[Server, dict[str, str]]:
    url = backends.database_url(args.database, workdir)
    backends.reset(url, args.redis)
    env = backends.server_environment(url, args.redis)
    env.update(
        {
            "MAINSPRING_PASSWORD_HASH_TIME_COST": "1",
            "MAINSPRING_PASSWORD_HASH_MEMORY_KIB": "8",
            "MAINSPRING_REGISTER_LIMIT_PER_IP": "1000000/hour",
            "MAINSPRING_LOG_LEVEL": "WARNING",
            "MAINSPRING_MAIL_URL": f"file:{workdir / 'mail'}",
        }
    )
    backends.migrate(env, workdir)
    port = free_port()
    argv = [
        sys.executable, "-m", "mainspring", "serve", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-migrate", "--no-demo",
    ]  # fmt: skip
    server = spawn(argv, env=env, cwd=workdir, port=port)
    server.wait_ready("/healthz")
    return server, env


async def _account(http: httpx.AsyncClient, name: str) -> str:
    """Register ``name`` and sign in: its access token."""
    email = f"{name}@example.com"
    response = await http.post(
        "/api/v1/auth/register", json={"email": email, "username": name, "password": PASSWORD}
    )
    if response.status_code != 202:
        raise BenchError(f"register {name}: {response.status_code} {response.text}")
    response = await http.post(
        "/api/v1/auth/login", json={"identifier": email, "password": PASSWORD}
    )
    if response.status_code != 200:
        raise BenchError(f"login {name}: {response.status_code} {response.text}")
    token: str = response.json()["access_token"]
    return token


class Retries:
    """How often the server said "the database is busy, try again" (``retry_after``) and the
    bench did, as a client must: at connect (an ``error`` then 1013) and on a frame."""

    def __init__(self) -> None:
        self.connect = 0
        self.frames = 0


async def _socket(ws_url: str, token: str, retries: Retries) -> ClientConnection:
    """An authenticated socket past its ``ready``, reconnecting after ``retry_after`` when the
    server refuses the connect for a busy database. No client-side keepalive: on a loaded
    machine a late pong made the client drop healthy sockets (1011, "no close frame"); the
    server pings, and the bench reads every socket all the time so its pongs go out."""
    for attempt in range(CONNECT_ATTEMPTS):
        socket = await connect(
            ws_url,
            additional_headers={"Authorization": f"Bearer {token}"},
            open_timeout=60,
            ping_interval=None,
        )
        first = json.loads(await socket.recv())
        if first.get("type") == "ready":
            return socket
        await socket.close()
        if first.get("type") != "error" or "retry_after" not in first:
            raise BenchError(f"no ready: {first}")
        retries.connect += 1
        await asyncio.sleep(_backoff(first["retry_after"], attempt))
    raise BenchError(f"no ready after {CONNECT_ATTEMPTS} attempts: {first}")


async def _keep_alive(sockets: list[ClientConnection]) -> None:
    """Every socket sends ``ping`` every 20 s, as a client must to stay under the idle close;
    the answers are left unread (they are a few bytes each)."""
    while True:
        await asyncio.sleep(20.0)
        for socket in list(sockets):
            if socket.close_code is None:
                await socket.send('{"type": "ping"}')


async def _idle(server: Server, count: int, batch_size: int) -> dict[str, float]:
    ws_url = server.base_url.replace("http://", "ws://") + "/api/v1/chat/ws"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        token = await _account(http, f"idle_{uuid.uuid4().hex[:8]}")
        retries = Retries()
        first = await _socket(ws_url, token, retries)  # warm: imports, caches, presence
        await asyncio.sleep(1.0)
        before = resident_mib(server.process.pid)
        sockets = [first]
        pinger = asyncio.create_task(_keep_alive(sockets))  # idle, not silent: no 4408
        started = time.perf_counter()
        while len(sockets) < count:
            batch = min(batch_size, count - len(sockets))
            sockets += await asyncio.gather(
                *(_socket(ws_url, token, retries) for _ in range(batch))
            )
        elapsed = time.perf_counter() - started
        await asyncio.sleep(2.0)
        after = resident_mib(server.process.pid)
        still_open = sum(1 for s in sockets if s.close_code is None)
        pinger.cancel()
        await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    return {
        "sockets": float(still_open),
        "rss_before_mib": before,
        "rss_after_mib": after,
        "kib_per_socket": (after - before) * 1024 / max(count - 1, 1),
        "connect_seconds": elapsed,
        "connect_retries": float(retries.connect),
    }


async def _fanout(
    server: Server, members: int, messages: int, interval: float, batch_size: int
) -> dict[str, Any]:
    ws_url = server.base_url.replace("http://", "ws://") + "/api/v1/chat/ws"
    prefix = uuid.uuid4().hex[:6]
    limits = httpx.Limits(max_connections=20)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=120, limits=limits) as http:
        tokens: list[str] = []
        for start in range(0, members, 20):
            names = [f"m{prefix}_{i}" for i in range(start, min(start + 20, members))]
            tokens += await asyncio.gather(*(_account(http, name) for name in names))
        owner = {"Authorization": f"Bearer {tokens[0]}"}
        room = (await http.post("/api/v1/chat/rooms", json={"name": "bench"}, headers=owner)).json()
        for start in range(1, members, 20):
            await asyncio.gather(
                *(
                    http.post(
                        f"/api/v1/chat/rooms/{room['id']}/join",
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    for token in tokens[start : start + 20]
                )
            )
    sent_at: dict[str, float] = {}
    arrivals: dict[str, list[float]] = {}
    subscribed: dict[ClientConnection, asyncio.Event] = {}
    lost: dict[str, int] = {}
    retries = Retries()
    phase = "connect"
    subscribe = json.dumps({"type": "subscribe", "rooms": [room["id"]]})
    sends: dict[str, str] = {}  # client_id -> the frame, to resend when the server asks

    async def listen(socket: ClientConnection) -> None:
        """Read this socket from its ``ready`` to the end, whatever it is sent (presence,
        typing...), so that it never stops reading: a socket left unread fills its client
        queue, then its TCP window, and the server rightly drops it as a slow consumer. An
        ``error`` with ``retry_after`` (the database was busy) is retried, as a client must. A
        socket lost anyway is counted by its close code and the phase it was lost in rather
        than failing the run."""
        received = 0
        attempt = 0
        try:
            while received < messages:
                data = json.loads(await socket.recv())
                if data["type"] == "subscribed":
                    subscribed[socket].set()
                elif data["type"] == "message":
                    arrivals.setdefault(data["message"]["client_id"], []).append(
                        time.perf_counter()
                    )
                    received += 1
                elif data["type"] == "error":
                    if "retry_after" not in data:
                        raise BenchError(f"error frame: {data}")
                    retries.frames += 1
                    await asyncio.sleep(_backoff(data["retry_after"], attempt))
                    attempt += 1
                    again = sends[data["client_id"]] if "client_id" in data else subscribe
                    await socket.send(again)
        except ConnectionClosed as closed:
            rcvd = closed.rcvd
            key = f"{socket.close_code} during {phase}"
            if rcvd is not None and rcvd.reason:
                key += f" ({rcvd.reason})"
            lost[key] = lost.get(key, 0) + 1
            subscribed[socket].set()

    sockets: list[ClientConnection] = []
    listeners: list[asyncio.Task[None]] = []
    pinger = asyncio.create_task(_keep_alive(sockets))  # the set-up takes longer than 60 s
    for start in range(0, members, batch_size):
        batch = await asyncio.gather(
            *(_socket(ws_url, t, retries) for t in tokens[start : start + batch_size])
        )
        for socket in batch:
            subscribed[socket] = asyncio.Event()
            listeners.append(asyncio.create_task(listen(socket)))
        sockets += batch
    phase = "subscribe"
    for start in range(0, members, batch_size):
        batch = sockets[start : start + batch_size]
        for socket in batch:
            await socket.send(subscribe)
        await asyncio.wait_for(asyncio.gather(*(subscribed[s].wait() for s in batch)), 300)
    phase = "fan-out"
    sender = sockets[0]
    for i in range(messages):
        client_id = f"bench-{i}"
        sends[client_id] = json.dumps(
            {"type": "send", "room_id": room["id"], "client_id": client_id, "body": "x"}
        )
        sent_at[client_id] = time.perf_counter()
        await sender.send(sends[client_id])
        await asyncio.sleep(interval)
    await asyncio.wait_for(asyncio.gather(*listeners), timeout=120)
    phase = "close"
    pinger.cancel()
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    every = sorted(t - sent_at[c] for c, times in arrivals.items() for t in times)
    last = sorted(max(times) - sent_at[c] for c, times in arrivals.items())
    return {
        "members": members,
        "messages": messages,
        "sockets_lost": lost,  # "code during phase (reason)" -> count; {} when all stayed
        "connect_retries": retries.connect,
        "frame_retries": retries.frames,
        "deliveries": len(every),
        "p50_ms": _percentile(every, 50) * 1000,
        "p99_ms": _percentile(every, 99) * 1000,
        "max_ms": every[-1] * 1000,
        "last_member_p50_ms": _percentile(last, 50) * 1000,
        "last_member_p99_ms": _percentile(last, 99) * 1000,
    }


def _percentile(values: Sequence[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def main(argv: Sequence[str] | None = None) -> int:
    parse = argparse.ArgumentParser(prog="python -m bench.chat", description=__doc__.split("\n")[0])
    parse.add_argument("what", choices=["idle", "fanout"])
    parse.add_argument("--sockets", type=int, default=10_000)
    parse.add_argument("--members", type=int, default=1000)
    parse.add_argument("--messages", type=int, default=30)
    parse.add_argument("--interval", type=float, default=0.2)
    parse.add_argument(
        "--batch",
        type=int,
        default=CONNECT_BATCH,
        help="sockets connected (and, in fanout, subscribed) together; the set-up is not the "
        "measurement, but --batch 1000 makes it a reconnect storm the server must survive",
    )
    parse.add_argument("--database", default="sqlite")
    parse.add_argument("--redis", default=None)
    args = parse.parse_args(argv)
    wanted = args.sockets + 100 if args.what == "idle" else args.members + 100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < wanted:  # the server, spawned from here, inherits the limit too
        print(f"ulimit -n: {wanted} descriptors needed, the hard limit is {hard}", file=sys.stderr)
        return 2
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    with tempfile.TemporaryDirectory(prefix="mainspring-chat-bench-") as tmp:
        workdir = Path(tmp)
        server, _ = _server(args, workdir)
        try:
            if args.what == "idle":
                result: dict[str, Any] = asyncio.run(_idle(server, args.sockets, args.batch))
            else:
                result = asyncio.run(
                    _fanout(server, args.members, args.messages, args.interval, args.batch)
                )
        except BaseException:
            server.stop()
            server.output.wait_closed()
            print(server.output.text()[-3000:], file=sys.stderr)
            raise
        server.stop()
    print(
        json.dumps(
            {
                "what": args.what,
                "database": backends.dialect(backends.database_url(args.database, Path("."))),
                **result,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
