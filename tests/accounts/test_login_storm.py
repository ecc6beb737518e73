"""A sign-in checks its password holding no database connection (and, on SQLite, not the write
lock): the hash takes tens of milliseconds, longer in a storm, and the other requests must not
wait for it. With a pool of ONE connection, a write made while a sign-in is hashing answers at
once; when the sign-in held its connection through the hash, that write waited for the pool
and answered 503."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from mainspring.core.config import Settings
from tests.conftest import make_settings
from tests.fixtures.users import PASSWORD, NewUser


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url,
        database_pool_size=1,
        database_max_overflow=0,
        database_pool_timeout_seconds=1.0,
        sqlite_busy_timeout_ms=1000,
    )


async def test_a_sign_in_holds_no_connection_while_it_hashes(
    app: FastAPI,
    client: httpx.AsyncClient,
    new_user: NewUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await new_user("ada")
    bob = await new_user("bob")
    hasher = app.state.password_hasher
    verify = hasher.verify
    hashing, release = asyncio.Event(), asyncio.Event()

    async def held_verify(password: str, password_hash: str | None) -> tuple[bool, str | None]:
        hashing.set()
        await release.wait()  # the hash "takes" until the write below is answered
        result: tuple[bool, str | None] = await verify(password, password_hash)
        return result

    monkeypatch.setattr(hasher, "verify", held_verify)
    sign_in = asyncio.create_task(
        client.post("/api/v1/auth/login", json={"identifier": "ada", "password": PASSWORD})
    )
    await asyncio.wait_for(hashing.wait(), timeout=10)

    write = await client.post("/api/v1/projects", json={"name": "Launch"}, headers=bob.headers)
    release.set()

    assert write.status_code == 201, write.text
    signed_in = await sign_in
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["access_token"]


async def test_a_password_changed_during_the_hash_fails_the_sign_in(
    app: FastAPI,
    client: httpx.AsyncClient,
    new_user: NewUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The account is read before the hash and again after it: the old password, checked while
    the password changed, signs nobody in."""
    ada = await new_user("ada")
    hasher = app.state.password_hasher
    verify = hasher.verify
    hashing, release = asyncio.Event(), asyncio.Event()

    async def held_verify(password: str, password_hash: str | None) -> tuple[bool, str | None]:
        if password == PASSWORD:  # the sign-in below, not the password change
            hashing.set()
            await release.wait()
        result: tuple[bool, str | None] = await verify(password, password_hash)
        return result

    monkeypatch.setattr(hasher, "verify", held_verify)
    sign_in = asyncio.create_task(
        client.post("/api/v1/auth/login", json={"identifier": "ada", "password": PASSWORD})
    )
    await asyncio.wait_for(hashing.wait(), timeout=10)
    monkeypatch.setattr(hasher, "verify", verify)
    changed = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "another long passphrase 43"},
        headers=ada.headers,
    )
    assert changed.status_code == 204, changed.text
    release.set()

    refused = await sign_in
    assert refused.status_code == 401, refused.text
