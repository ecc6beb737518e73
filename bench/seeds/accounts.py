"""Users for the seeds: sign one in over HTTP, insert thousands in bulk, sign in a pool of them.

Every scenario's users are named after it (``bench_reader``, ``bench_author_12``...), so that
scenarios sharing a run's database never collide.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from bench.errors import BenchError
from bench.seeds.context import SeedContext

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

SIGN_IN_CONCURRENCY = 8
"""Sign-ins in flight at once: a few more than the server hashes at once (one per CPU, at most
4, by default)."""
INSERT_BATCH = 2000


async def register_and_sign_in(ctx: SeedContext, account: Mapping[str, str], label: str) -> str:
    """Register ``account`` over HTTP and sign it in; returns its access token.

    The registration's answer is not checked: registering the account again answers 409 (its
    username is taken) and changes nothing, so seeds sharing an account each call this."""
    await ctx.client.post("/api/v1/auth/register", json=account)
    return await sign_in(ctx, account["username"], account["password"], label)


async def sign_in(ctx: SeedContext, identifier: str, password: str, label: str) -> str:
    """Sign in over HTTP, as a client does; returns the access token."""
    login = await ctx.client.post(
        "/api/v1/auth/login", json={"identifier": identifier, "password": password}
    )
    if login.status_code != 200:
        raise BenchError(f"{label}: signing in answered {login.status_code}: {login.text[:300]}")
    return str(login.json()["access_token"])


async def insert_users(
    session: AsyncSession, names: Iterable[str], password_hash: str | None = None
) -> None:
    """Users named ``names``, inserted in batches; without a password (they never sign in)
    unless ``password_hash`` is given."""
    from sqlalchemy import insert

    from mainspring.accounts.models import User

    rows = [
        {
            "id": uuid.uuid4(),
            "email": f"{name}@bench.example.com",
            "username": name,
            "username_key": name,
            "display_name": name,
            "password_hash": password_hash,
        }
        for name in names
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        await session.execute(insert(User), rows[start : start + INSERT_BATCH])


async def sign_in_users(ctx: SeedContext, prefix: str, count: int, label: str) -> tuple[str, ...]:
    """``count`` users named ``<prefix>_<n>``, each signed in over HTTP: their access tokens.

    Registering them over HTTP would meet the per-address registration limit (10 an hour by
    default) after ten, so they are inserted, with one password whose hash the harness computes
    once, with the server's own hashing parameters. Signing in stays real: one Argon2id
    verification and one new session per user, a few at a time.
    """
    from mainspring.core.passwords import PasswordHasher

    password = f"{prefix}: one password for every bench user of this kind"
    password_hash = await PasswordHasher.from_settings(ctx.settings()).hash(password)
    names = [f"{prefix}_{n}" for n in range(count)]
    async with ctx.session() as session:
        await insert_users(session, names, password_hash)
    slots = asyncio.Semaphore(SIGN_IN_CONCURRENCY)

    async def one(name: str) -> str:
        async with slots:
            return await sign_in(ctx, name, password, label)

    return tuple(await asyncio.gather(*(one(name) for name in names)))
