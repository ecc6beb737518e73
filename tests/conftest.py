"""Test harness: a migrated database per run, a fresh app per test, a client over ASGI.

Environment:
  MAINSPRING_TEST_DATABASE_URL  run on this PostgreSQL database instead of a temporary SQLite file
                                (its public schema is dropped and migrated at the start).
  MAINSPRING_TEST_REDIS_URL     run the Redis backends' tests, and configure the app with Redis.
  MAINSPRING_TEST_REDIS_WORKER_DB
                                under ``pytest -n N`` (``make test``), the Redis db index of the
                                first worker (gw0); worker gwK uses that index + K. Default: the
                                index of MAINSPRING_TEST_REDIS_URL + 1.
  CI                            a configured server (or a required tool) that is missing fails
                                the run instead of skipping it; an unconfigured one is skipped.
Each test starts from empty tables: they are emptied after every test.

Parallel runs (pytest-xdist, ``make test``): each worker process has its own database (a SQLite
file under its own temporary directory, or the PostgreSQL database ``<name>_gw0``, ``<name>_gw1``...
next to the configured one, created when missing) and its own Redis db, so workers never see each
other's rows, keys, rate-limit counters or job streams. Servers that tests start listen on ports
the kernel hands out (port 0), which never collide across workers.
"""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from mainspring import cli
from mainspring.app import create_app
from mainspring.core import migrations
from mainspring.core.access_tokens import generate_private_key_pem
from mainspring.core.config import OwnValuesOnly, Settings
from mainspring.core.db import create_engine
from mainspring.models import metadata
from tests.fixtures.connections import NestedCheckouts

pytest_plugins = ["tests.fixtures.jobs", "tests.fixtures.mail", "tests.fixtures.users"]

# "gw0", "gw1"... in a pytest-xdist worker process (xdist sets it before conftest is imported);
# None in a serial run.
WORKER = os.environ.get("PYTEST_XDIST_WORKER") or None


def worker_database_url(url: str | None, worker: str | None = WORKER) -> str | None:
    """The worker's own PostgreSQL database: ``.../mainspring_test`` -> ``..._test_gw0``."""
    if not url or worker is None:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


def worker_redis_url(url: str | None, worker: str | None = WORKER) -> str | None:
    """The worker's own Redis db: gwK uses MAINSPRING_TEST_REDIS_WORKER_DB (default: the
    configured db + 1) + K."""
    if not url or worker is None:
        return url
    parts = urlsplit(url)
    configured = int(parts.path.strip("/") or 0)
    first = int(os.environ.get("MAINSPRING_TEST_REDIS_WORKER_DB") or configured + 1)
    return urlunsplit(parts._replace(path=f"/{first + int(worker.removeprefix('gw'))}"))


TEST_DATABASE_URL = worker_database_url(os.environ.get("MAINSPRING_TEST_DATABASE_URL") or None)
TEST_REDIS_URL = worker_redis_url(os.environ.get("MAINSPRING_TEST_REDIS_URL") or None)
IN_CI = bool(os.environ.get("CI"))
TEST_SIGNING_KEY = generate_private_key_pem()


def not_configured(reason: str) -> None:
    """Skip a test whose server is not configured (the run has no MAINSPRING_TEST_*_URL for it).

    CI runs the suite twice, embedded and on PostgreSQL + Redis: a test skipped for this reason
    in the first run runs in the second."""
    pytest.skip(reason)


def unavailable(reason: str) -> None:
    """A configured server (or a required tool) is missing: skip on a laptop; fail in CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI is set: a missing server is a failure)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _wide_cli_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line's tables are laid out 250 columns wide whatever runs the test: a
    terminal, CI's log file, or an xdist worker (whose consoles, made at import, would keep the
    80 columns of a process without a terminal)."""
    for console in (cli.console, cli.err_console):
        monkeypatch.setattr(console, "width", 250)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


class IsolatedSettings(OwnValuesOnly, Settings):
    """Settings from the test's own values: the developer's environment and .env are ignored."""


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "database_url": database_url,
        "redis_url": TEST_REDIS_URL,
        "secret_key": "test-secret-key-that-is-long-enough-0123456789",
        "log_level": "WARNING",
        "worker_in_process": False,
        # Accounts: one signing key per test run; the cheapest Argon2id hasher (suites sign
        # many people in; tests/accounts checks the production parameters); registrations
        # unthrottled (suites register many users).
        "jwt_signing_keys": [{"kid": "test", "key": TEST_SIGNING_KEY}],
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 8,
        "register_limit_per_ip": "10000/minute",
    }
    values.update(overrides)
    return IsolatedSettings(**values)  # type: ignore[arg-type]


async def _create_postgres_database(url: str) -> None:
    """Create the (worker's) database when it does not exist yet, through the server's
    ``postgres`` maintenance database (CREATE DATABASE cannot run in a transaction)."""
    target = make_url(url)
    maintenance = create_async_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with maintenance.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            )
            if not exists:
                name = conn.dialect.identifier_preparer.quote(str(target.database))
                await conn.execute(text(f"CREATE DATABASE {name}"))
    finally:
        await maintenance.dispose()


async def _reset_postgres(url: str) -> None:
    if WORKER is not None:
        await _create_postgres_database(url)
    engine = create_engine(url, make_settings(url))
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test database, migrated to head once per run."""
    if TEST_DATABASE_URL:
        try:
            asyncio.run(_reset_postgres(TEST_DATABASE_URL))
        except OSError as exc:
            unavailable(f"PostgreSQL at MAINSPRING_TEST_DATABASE_URL does not answer: {exc}")
        url = TEST_DATABASE_URL
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrations.upgrade(make_settings(url))
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


async def empty_tables(app: FastAPI, *, delete: bool = False) -> None:
    """Empty every table: ``TRUNCATE ... RESTART IDENTITY`` on PostgreSQL, ``DELETE`` on SQLite.
    ``delete=True``: ``DELETE`` on PostgreSQL too, children first, for code that empties a
    database holding a few rows many times over (the stateful fuzzer, before each scenario):
    there it takes a twentieth of the time of a ``TRUNCATE`` of every table."""
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    if not tables:
        return
    async with app.state.db.engine.begin() as conn:
        if conn.dialect.name == "postgresql" and not delete:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                await conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608 - our own table names


async def forget_redis(settings: Settings) -> None:
    """Empty the test's Redis database: cache entries, rate-limit counters and streams that an
    earlier test left describe tables the suite emptied since (each xdist worker has its own
    database, so this touches no other worker)."""
    if not settings.redis_url:
        return
    from redis.asyncio import Redis

    client = Redis.from_url(settings.redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def empty_database(settings: Settings) -> None:
    """``empty_tables`` from synchronous code outside any test's event loop (module-scoped
    fixtures): an app is started for it and stopped again."""

    async def empty() -> None:
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            await empty_tables(application)

    asyncio.run(empty())


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The application on the test database, its tables emptied after the test; on a shared
    Redis, every test starts from an empty one (an in-memory cache is new with each app)."""
    await forget_redis(settings)
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        nested = NestedCheckouts(application.state.db.engine)
        try:
            yield application
        finally:
            nested.stop()
            await empty_tables(application)
        assert not nested.found, "a task held two pooled connections at once:\n" + nested.found[0]


@pytest.fixture
def client_address() -> str:
    """The address ``client`` connects from: 127.0.0.1, a trusted proxy by default. A suite
    whose rate limits must not carry over between tests overrides it with
    ``tests.fixtures.users.any_client_address()``."""
    return "127.0.0.1"


@pytest.fixture
async def client(app: FastAPI, client_address: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(
        app=app, raise_app_exceptions=False, client=(client_address, 50_000)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    """Every ``async def`` test runs on anyio without a marker of its own.

    The marker is put on the function before anyio's plugin collects it, so parametrized async
    tests keep their parameters."""
    if (
        isinstance(collector, pytest.Module | pytest.Class)
        and collector.istestfunction(obj, name)
        and inspect.iscoroutinefunction(obj)
    ):
        pytest.mark.anyio(obj)
