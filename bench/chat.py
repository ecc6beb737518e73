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

from bench import backends
from bench.errors import BenchError
from bench.processes import Server, free_port, spawn
from bench.startup import resident_mib

PASSWORD = "bench passphrase 42 long enough"  # noqa: S105 - throwaway bench accounts
CONNECT_BATCH = 100
MIB = 1024 * 1024


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


async def _socket(ws_url: str, token: str) -> ClientConnection:
    socket = await connect(
        ws_url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=60
    )
    ready = json.loads(await socket.recv())
    if ready.get("type") != "ready":
        raise BenchError(f"no ready: {ready}")
    return socket


async def _keep_alive(sockets: list[ClientConnection]) -> None:
    """Every socket sends ``ping`` every 20 s, as a client must to stay under the idle close;
    the answers are left unread (they are a few bytes each)."""
    while True:
        await asyncio.sleep(20.0)
        for socket in list(sockets):
            if socket.close_code is None:
                await socket.send('{"type": "ping"}')


async def _idle(server: Server, count: int) -> dict[str, float]:
    ws_url = server.base_url.replace("http://", "ws://") + "/api/v1/chat/ws"
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        token = await _account(http, f"idle_{uuid.uuid4().hex[:8]}")
        first = await _socket(ws_url, token)  # warm: imports, caches, the user's presence
        await asyncio.sleep(1.0)
        before = resident_mib(server.process.pid)
        sockets = [first]
        pinger = asyncio.create_task(_keep_alive(sockets))  # idle, not silent: no 4408
        started = time.perf_counter()
        while len(sockets) < count:
            batch = min(CONNECT_BATCH, count - len(sockets))
            sockets += await asyncio.gather(*(_socket(ws_url, token) for _ in range(batch)))
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
    }


async def _fanout(server: Server, members: int, messages: int, interval: float) -> dict[str, Any]:
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
    sockets: list[ClientConnection] = []
    for start in range(0, members, CONNECT_BATCH):
        sockets += await asyncio.gather(
            *(_socket(ws_url, t) for t in tokens[start : start + CONNECT_BATCH])
        )
    for socket in sockets:
        await socket.send(json.dumps({"type": "subscribe", "rooms": [room["id"]]}))
    for socket in sockets:
        while json.loads(await socket.recv())["type"] != "subscribed":
            pass
    sent_at: dict[str, float] = {}
    arrivals: dict[str, list[float]] = {}

    async def listen(socket: ClientConnection) -> None:
        received = 0
        while received < messages:
            data = json.loads(await socket.recv())
            if data["type"] == "message":
                arrivals.setdefault(data["message"]["client_id"], []).append(time.perf_counter())
                received += 1

    listeners = [asyncio.create_task(listen(s)) for s in sockets]
    sender = sockets[0]
    for i in range(messages):
        client_id = f"bench-{i}"
        sent_at[client_id] = time.perf_counter()
        await sender.send(
            json.dumps({"type": "send", "room_id": room["id"], "client_id": client_id, "body": "x"})
        )
        await asyncio.sleep(interval)
    await asyncio.wait_for(asyncio.gather(*listeners), timeout=120)
    await asyncio.gather(*(s.close() for s in sockets), return_exceptions=True)
    every = sorted(t - sent_at[c] for c, times in arrivals.items() for t in times)
    last = sorted(max(times) - sent_at[c] for c, times in arrivals.items())
    return {
        "members": members,
        "messages": messages,
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
    parse.add_argument("--database", default="sqlite")
    parse.add_argument("--redis", default=None)
    args = parse.parse_args(argv)
    wanted = args.sockets + 100 if args.what == "idle" else args.members + 100
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    with tempfile.TemporaryDirectory(prefix="mainspring-chat-bench-") as tmp:
        workdir = Path(tmp)
        server, _ = _server(args, workdir)
        try:
            if args.what == "idle":
                result: dict[str, Any] = asyncio.run(_idle(server, args.sockets))
            else:
                result = asyncio.run(_fanout(server, args.members, args.messages, args.interval))
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
