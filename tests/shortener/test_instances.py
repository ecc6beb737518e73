"""Invalidation across app instances: a change committed by one process reaches the LRU and
cache of every other one through the kernel's pub/sub."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from mainspring.app import create_app
from mainspring.core.config import Settings
from mainspring.shortener.lookup import CHANNEL
from mainspring.shortener.models import Link
from mainspring.shortener.settings import ShortenerSettings, use_settings
from tests.conftest import TEST_REDIS_URL, not_configured
from tests.fixtures.users import NewUser as Writers
from tests.shortener.conftest import LINKS, follow, shorten


async def _location_becomes(client: httpx.AsyncClient, code: str, expected: str) -> None:
    """Follow ``code`` until it redirects to ``expected``: the announcement travels
    asynchronously (a bounded wait, not a timing assertion)."""
    for _ in range(500):
        if (await follow(client, code)).headers.get("location") == expected:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"/{code} never redirected to {expected}")


async def test_an_announced_change_evicts_this_process_lru_and_cache(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    link = await shorten(client, "https://example.com/old")
    for _ in range(2):
        await follow(client, link["code"])  # now in the LRU and the kernel cache
    # Another instance changes the link and announces it (as its invalidator would).
    async with app.state.db.session() as session:
        await session.execute(
            update(Link)
            .where(Link.code == link["code"])
            .values(target_url="https://example.com/new")
        )
    assert (await follow(client, link["code"])).headers["location"] == "https://example.com/old"
    await app.state.pubsub.publish(
        CHANNEL, {"keys": [link["code"].lower()], "origin": "another-instance"}
    )
    await _location_becomes(client, link["code"], "https://example.com/new")


async def test_two_instances_on_redis_stay_consistent(
    settings: Settings, shortener_settings: ShortenerSettings, app: FastAPI, writer: Writers
) -> None:
    if not TEST_REDIS_URL:
        not_configured("two instances share pub/sub only through Redis (MAINSPRING_TEST_REDIS_URL)")
    with use_settings(shortener_settings):
        other = create_app(settings)
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as first,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other), base_url="http://testserver"
        ) as second,
    ):
        ada = await writer("ada")
        link = await shorten(first, "https://example.com/v1", headers=ada.headers)
        code = link["code"]
        for _ in range(2):
            assert (await follow(second, code)).headers["location"] == "https://example.com/v1"
        assert other.state.shortener.lru.get(code.lower()) is not None

        await first.patch(
            f"{LINKS}/{code}", json={"url": "https://example.com/v2"}, headers=ada.headers
        )
        await _location_becomes(second, code, "https://example.com/v2")

        await first.patch(f"{LINKS}/{code}", json={"enabled": False}, headers=ada.headers)
        for _ in range(500):
            if (await follow(second, code)).status_code == 410:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the second instance kept serving a disabled link")
        await first.delete(f"{LINKS}/{code}", headers=ada.headers)
        for _ in range(500):
            if (await follow(second, code)).status_code == 404:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the second instance kept serving a deleted link")
