"""The load: writers that register accounts (each one a row and a background mail job), readers
that list articles, and probers of ``/healthz`` and ``/readyz``; every request recorded.

A write is *acknowledged* when it answered 202: the suite later checks each acknowledged
account exists exactly once and got exactly one verification mail (its job was delivered).
The client never retries: a retry would hide a lost write.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from dataclasses import dataclass, field

import httpx

CLIENT_TIMEOUT_SECONDS = 15.0
PASSWORD = "fault-suite correct horse 42"


@dataclass(frozen=True)
class Record:
    kind: str  # write, read, healthz, readyz
    started: float  # time.monotonic()
    ended: float
    status: int | None  # None: no response (connection refused or reset, client timeout)
    error: str | None = None
    retry_after: str | None = None

    @property
    def seconds(self) -> float:
        return self.ended - self.started

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Load:
    """Runs in a thread of its own (the suite's main thread blocks on pg_ctl and friends)."""

    base_url: str
    writers: int = 3
    readers: int = 3
    pause: float = 0.02
    records: list[Record] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(CLIENT_TIMEOUT_SECONDS + 10)
            self._thread = None

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=CLIENT_TIMEOUT_SECONDS, limits=limits
        ) as client:
            loops = [self._writer(client) for _ in range(self.writers)]
            loops += [self._reader(client) for _ in range(self.readers)]
            loops += [
                self._probe(client, "/healthz", "healthz"),
                self._probe(client, "/readyz", "readyz"),
            ]
            await asyncio.gather(*loops)

    async def _request(
        self, client: httpx.AsyncClient, kind: str, method: str, url: str, **kwargs: object
    ) -> Record:
        started = time.monotonic()
        try:
            response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException:
            record = Record(kind, started, time.monotonic(), None, "client timeout")
        except httpx.HTTPError as exc:
            record = Record(kind, started, time.monotonic(), None, type(exc).__name__)
        else:
            failed = None
            if kind == "readyz" and response.status_code == 503:
                checks = response.json().get("checks", {})
                failed = ",".join(n for n, c in checks.items() if c.get("status") != "ok")
            record = Record(
                kind, started, time.monotonic(), response.status_code,
                failed, response.headers.get("retry-after"),
            )  # fmt: skip
        self.records.append(record)
        return record

    async def _writer(self, client: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            username = f"f{secrets.token_hex(6)}"
            body = {"username": username, "email": f"{username}@faults.test", "password": PASSWORD}
            record = await self._request(
                client, "write", "POST", "/api/v1/auth/register", json=body
            )
            if record.status == 202:
                self.acknowledged.append(username)
            await self._pace(record)

    async def _reader(self, client: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            record = await self._request(client, "read", "GET", "/api/v1/articles?limit=5")
            await self._pace(record)

    async def _probe(self, client: httpx.AsyncClient, path: str, kind: str) -> None:
        while not self._stop.is_set():
            await self._request(client, kind, "GET", path)
            await asyncio.sleep(0.2)

    async def _pace(self, record: Record) -> None:
        # A client that got no answer backs off a little, as a real one would.
        await asyncio.sleep(self.pause if record.status is not None else 0.2)
