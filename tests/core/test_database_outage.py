"""Database outages: every failure to reach or use the database answers 503 problem+json with
``Retry-After`` (never 500, never a hang), the circuit fails fast, the pool waits a bounded time,
and the service recovers without a restart. The fault suite (``make faults``) proves the same
with real servers killed under load; these tests pin each behaviour down one at a time."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, InterfaceError, InternalError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from mainspring.app import create_app
from mainspring.core.config import Settings
from mainspring.core.deps import SessionDep
from tests.conftest import TEST_DATABASE_URL, not_configured

PROBLEM = "application/problem+json"
# A read that reaches the database on every call (module reads may be answered from the cache).
READ = "/_test/read"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)

    @app.get(READ)
    async def read(session: SessionDep) -> int:
        return int((await session.execute(text("SELECT count(*) FROM users"))).scalar_one())

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield app, client


def assert_unavailable(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == PROBLEM
    assert int(response.headers["retry-after"]) >= 1
    body: dict[str, object] = response.json()
    assert body["code"] == "database-unavailable"
    assert body["status"] == 503
    return body


# --- the classification, over HTTP ------------------------------------------------------------


RAISED: dict[str, tuple[BaseException, int]] = {
    "sqlite-locked": (
        OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked")),
        503,
    ),
    "sqlite-missing-table": (
        OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: users")),
        503,
    ),
    "sqlite-syntax": (
        OperationalError("SELEC", {}, sqlite3.OperationalError('near "SELEC": syntax error')),
        500,
    ),
    "pg-serialization": (DBAPIError("UPDATE", {}, asyncpg.SerializationError("x")), 503),
    "pg-deadlock": (DBAPIError("UPDATE", {}, asyncpg.DeadlockDetectedError("x")), 503),
    "pg-lock-timeout": (DBAPIError("UPDATE", {}, asyncpg.LockNotAvailableError("x")), 503),
    "pg-statement-timeout": (DBAPIError("SELECT", {}, asyncpg.QueryCanceledError("x")), 503),
    "pg-shutting-down": (DBAPIError("SELECT", {}, asyncpg.AdminShutdownError("x")), 503),
    "pg-starting": (DBAPIError("SELECT", {}, asyncpg.CannotConnectNowError("x")), 503),
    "pg-too-many-connections": (
        DBAPIError("SELECT", {}, asyncpg.TooManyConnectionsError("x")),
        503,
    ),
    "pg-connection-closed": (
        InterfaceError("SELECT", {}, asyncpg.InterfaceError("connection is closed")),
        503,
    ),
    "pg-another-operation": (
        InternalError(
            "SELECT",
            {},
            asyncpg.InternalClientError(
                "cannot switch to state 12; another operation (2) is in progress"
            ),
        ),
        503,
    ),
    "pg-undefined-table": (DBAPIError("SELECT", {}, asyncpg.UndefinedTableError("x")), 500),
    "pool-timeout": (PoolTimeoutError("QueuePool limit reached"), 503),
    "oserror-outside-the-database": (ConnectionRefusedError("smtp refused"), 500),
}


@pytest.mark.parametrize("case", list(RAISED))
async def test_database_errors_are_classified(
    app: FastAPI, client: httpx.AsyncClient, case: str
) -> None:
    error, status = RAISED[case]

    @app.get(f"/_test/raise/{case}")
    async def raise_it() -> None:
        raise error

    response = await client.get(f"/_test/raise/{case}")
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    if status == 503:
        assert_unavailable(response)
    else:
        assert response.json()["code"] == "internal-error"
        assert "retry-after" not in response.headers


# --- PostgreSQL down: a prompt 503, then the circuit ------------------------------------------


async def test_unreachable_database_answers_503_then_the_circuit_opens(
    settings: Settings,
) -> None:
    down = settings.model_copy(
        update={
            "database_url": f"postgresql+asyncpg://mainspring@127.0.0.1:{free_port()}/gone",
            "database_circuit_failures": 2,
            "database_circuit_open_seconds": 30,
        }
    )
    async with serving(down) as (app, client):
        for _ in range(2):
            assert_unavailable(await client.get(READ))
        assert app.state.db.circuit.state == "open"
        refused = await client.get(READ)  # no connection attempted: the circuit says no
        assert_unavailable(refused)
        assert 1 < int(refused.headers["retry-after"]) <= 30
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["status"] == "fail"
        assert ready.json()["checks"]["database"]["detail"] == "circuit open"
        assert (await client.get("/healthz")).status_code == 200
        realworld = await client.get("/realworld/api/articles")  # its own error shape
        assert realworld.status_code == 503
        assert int(realworld.headers["retry-after"]) >= 1
        assert realworld.json() == {
            "errors": {"body": ["The database is unavailable; try again shortly."]}
        }


# --- SQLite: locked, or its file missing -------------------------------------------------------


@pytest.fixture
def sqlite_only() -> None:
    if TEST_DATABASE_URL:
        not_configured("SQLite-only behaviour (this run is on PostgreSQL)")


async def test_a_locked_sqlite_database_answers_503(sqlite_only: None, settings: Settings) -> None:
    locked = settings.model_copy(update={"sqlite_busy_timeout_ms": 50})
    async with serving(locked) as (app, client):

        @app.post("/_test/write")
        async def write(session: SessionDep) -> None:
            await session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: takes the write lock

        assert settings.sqlite_path is not None
        holder = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            assert_unavailable(await client.post("/_test/write"))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert (await client.post("/_test/write")).status_code == 200


async def test_a_missing_sqlite_database_answers_503(
    sqlite_only: None, settings: Settings, tmp_path: Path
) -> None:
    missing = settings.model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'mainspring.db'}"}
    )
    async with serving(missing) as (_, client):
        assert_unavailable(await client.get(READ))


# --- the pool: a bounded wait ------------------------------------------------------------------


async def test_no_free_connection_answers_503_after_the_pool_timeout(settings: Settings) -> None:
    small = settings.model_copy(
        update={
            "database_pool_size": 1,
            "database_max_overflow": 0,
            "database_pool_timeout_seconds": 0.2,
        }
    )
    async with serving(small) as (app, client):
        async with app.state.db.engine.connect() as held:
            await held.execute(text("SELECT count(*) FROM users"))
            assert_unavailable(await client.get(READ))
        assert (await client.get(READ)).status_code == 200


# --- PostgreSQL lost under a request, then back ------------------------------------------------


class TcpProxy:
    """A loopback TCP proxy to PostgreSQL that a test can cut (every connection dropped, new
    ones refused) and restore: a database restart, as seen from the service."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            self._writers.discard(writer)
            writer.transport.abort()


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    if not TEST_DATABASE_URL:
        not_configured("PostgreSQL behaviour (MAINSPRING_TEST_DATABASE_URL is not set)")
    assert TEST_DATABASE_URL is not None
    url = httpx.URL(TEST_DATABASE_URL.replace("postgresql+asyncpg", "postgresql"))
    tcp = TcpProxy(url.port or 5432)
    await tcp.up()
    try:
        yield tcp
    finally:
        await tcp.down()


async def test_a_lost_connection_answers_503_and_the_service_recovers(
    proxy: TcpProxy, settings: Settings
) -> None:
    assert TEST_DATABASE_URL is not None
    through_proxy = TEST_DATABASE_URL.replace(
        f":{httpx.URL(TEST_DATABASE_URL.replace('+asyncpg', '')).port}/", f":{proxy.port}/"
    )
    flaky = settings.model_copy(
        update={
            "database_url": through_proxy,
            "database_circuit_failures": 2,
            "database_circuit_open_seconds": 0.2,
        }
    )
    async with serving(flaky) as (app, client):

        @app.get("/_test/slow")
        async def slow(session: SessionDep) -> None:
            await session.execute(text("SELECT pg_sleep(2)"))

        assert (await client.get(READ)).status_code == 200  # the pool holds a connection
        in_flight = asyncio.create_task(client.get("/_test/slow"))
        await asyncio.sleep(0.3)
        await proxy.down()  # PostgreSQL "restarts": every connection is dropped
        assert_unavailable(await in_flight)
        assert_unavailable(await client.get(READ))  # refused while it is down

        await proxy.up()
        statuses = []
        for _ in range(50):  # the circuit lets a probe through within 0.2 s
            response = await client.get(READ)
            statuses.append(response.status_code)
            if response.status_code == 200:
                break
            assert_unavailable(response)
            await asyncio.sleep(0.1)
        assert statuses[-1] == 200, statuses
        assert app.state.db.circuit.state == "closed"


@pytest.mark.parametrize("reads", ["read_session", "read_connection", "session"])
async def test_a_pooled_connection_ended_while_idle_is_replaced_before_a_request_uses_it(
    settings: Settings, reads: str
) -> None:
    # The pool checks each connection as it hands it out (one `;` round trip, core/pool.py
    # ping_once): PostgreSQL ending an idle connection (a restart, an idle timeout, an
    # operator) costs no request an error.
    if TEST_DATABASE_URL is None:
        not_configured("PostgreSQL only: MAINSPRING_TEST_DATABASE_URL is not set")
    assert TEST_DATABASE_URL is not None
    async with serving(settings.model_copy(update={"database_pool_size": 1})) as (app, client):
        database = app.state.db
        async with database.engine.connect() as connection:
            pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        killer = await asyncpg.connect(TEST_DATABASE_URL.replace("+asyncpg", ""))
        try:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await killer.close()
        await asyncio.sleep(0.1)
        opened = {
            "read_session": database.read_session,
            "read_connection": database.read_connection,
            "session": database.session,
        }[reads]
        async with opened() as reader:
            assert await reader.scalar(text("SELECT pg_backend_pid()")) != pid
        assert (await client.get(READ)).status_code == 200


async def test_a_connection_given_back_just_now_is_handed_out_without_a_round_trip(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load every checkout follows a checkin by milliseconds: the pool's check skips its
    round trip for a connection given back less than ``ALIVE_WINDOW_SECONDS`` ago whose socket
    is open (core/pool.py, ``ping_once``), and makes it for one idle longer."""
    if TEST_DATABASE_URL is None:
        not_configured("PostgreSQL only: MAINSPRING_TEST_DATABASE_URL is not set")
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

    from mainspring.core.pool import ALIVE_WINDOW_SECONDS

    pings = 0
    ping: Any = AsyncAdapt_asyncpg_connection.ping

    def counted(self: AsyncAdapt_asyncpg_connection) -> None:
        nonlocal pings
        pings += 1
        ping(self)

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
    async with serving(settings.model_copy(update={"database_pool_size": 1})) as (_app, client):
        for _ in range(3):  # the first opens the connection; the next two find it just given back
            assert (await client.get(READ)).status_code == 200
        assert pings == 0
        await asyncio.sleep(ALIVE_WINDOW_SECONDS + 0.1)
        assert (await client.get(READ)).status_code == 200
        assert pings == 1
