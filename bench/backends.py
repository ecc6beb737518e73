"""The state a run starts from: a fresh database, migrated; an empty Redis; the server's settings.

Figures are only comparable from the same starting point, so every run starts from empty
storage: a new SQLite file in the run's temporary directory, or the PostgreSQL database given on
the command line with its ``public`` schema dropped and re-created (as the test suite does) and
then migrated with ``mainspring migrate``. A Redis given with ``--redis`` is flushed (its
database number only). Give the harness databases that hold nothing you want to keep.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.errors import BenchError

POSTGRES_SCHEME = "postgresql+asyncpg://"


def database_url(database: str, workdir: Path) -> str:
    """The URL for ``--database``: ``sqlite`` (a file in ``workdir``) or a PostgreSQL URL."""
    if database == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    if database.startswith(POSTGRES_SCHEME):
        return database
    raise BenchError(f"--database is `sqlite` or a {POSTGRES_SCHEME}... URL, not {database!r}")


def dialect(url: str) -> str:
    """``sqlite`` or ``postgresql``: how the report names the database."""
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def redact(url: str) -> str:
    """``url`` with its password hidden, fit for a report: ``postgresql://me:***@host/db``."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def server_environment(database_url: str, redis_url: str | None) -> dict[str, str]:
    """The environment the server (and ``mainspring migrate``) runs with.

    The caller's ``MAINSPRING_*`` variables are dropped: the run's settings are these and no
    others. The access log stays on, in JSON, as in production; the environment is not
    ``production`` only so that the app answers the ``X-DB-Statements`` header the report
    records. The background worker runs apart at scale, so not inside the measured server.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("MAINSPRING_")}
    env.update(
        MAINSPRING_ENV="development",
        MAINSPRING_SECRET_KEY=secrets.token_urlsafe(48),
        MAINSPRING_DATABASE_URL=database_url,
        MAINSPRING_WORKER_IN_PROCESS="false",
        MAINSPRING_LOG_FORMAT="json",
        MAINSPRING_LOG_LEVEL="INFO",
    )
    if redis_url:
        env["MAINSPRING_REDIS_URL"] = redis_url
    return env


def reset(database_url: str, redis_url: str | None) -> None:
    """Empty the PostgreSQL database and the Redis database (a new SQLite file is empty)."""
    if dialect(database_url) == "postgresql":
        try:
            asyncio.run(_recreate_public_schema(database_url))
        except OSError as exc:
            raise BenchError(f"PostgreSQL does not answer: {exc}") from exc
    if redis_url:
        client = redis.Redis.from_url(redis_url)
        try:
            client.flushdb()
        except redis.RedisError as exc:
            raise BenchError(f"Redis does not answer: {exc}") from exc
        finally:
            client.close()


async def _recreate_public_schema(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


def migrate(env: dict[str, str], cwd: Path) -> None:
    """``mainspring migrate`` with the server's own environment: the schema it will serve."""
    result = subprocess.run(
        [sys.executable, "-m", "mainspring", "migrate"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BenchError(f"mainspring migrate failed:\n{result.stdout}{result.stderr}")
