"""Every rule that ends a link: expiry, disabling, click limits (exact under concurrency)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from mainspring.shortener.models import Link
from tests.fixtures.users import NewUser as Writers
from tests.shortener.conftest import LINKS, follow, shorten


def _iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def test_an_expiry_in_the_past_is_refused_at_creation(client: httpx.AsyncClient) -> None:
    response = await client.post(
        LINKS, json={"url": "https://example.com", "expires_at": _iso(-timedelta(minutes=1))}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid-expiry"


async def test_an_expired_link_is_gone_even_from_the_lru(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    link = await shorten(client, expires_at=_iso(timedelta(seconds=1.5)), headers=ada.headers)
    assert (await follow(client, link["code"])).status_code == 302
    assert (await follow(client, link["code"])).status_code == 302  # served by the LRU
    await asyncio.sleep(1.6)  # the link's expiry passes; nothing invalidates it
    gone = await follow(client, link["code"])
    assert gone.status_code == 410
    assert gone.json()["detail"] == "This link has expired."
    read = await client.get(f"{LINKS}/{link['code']}", headers=ada.headers)
    assert read.json()["status"] == "expired"


async def test_an_expiry_moved_into_the_past_ends_the_link_at_once(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    link = await shorten(client, expires_at=_iso(timedelta(days=1)), headers=ada.headers)
    path = f"{LINKS}/{link['code']}"
    await follow(client, link["code"])
    await client.patch(path, json={"expires_at": _iso(-timedelta(seconds=1))}, headers=ada.headers)
    assert (await follow(client, link["code"])).status_code == 410
    await client.patch(path, json={"expires_at": None}, headers=ada.headers)
    assert (await follow(client, link["code"])).status_code == 302


async def test_a_permanent_redirect_is_not_cached_past_the_expiry(
    client: httpx.AsyncClient,
) -> None:
    link = await shorten(client, redirect_type=301, expires_at=_iso(timedelta(seconds=120)))
    max_age = int((await follow(client, link["code"])).headers["cache-control"].split("=")[1])
    assert 0 < max_age <= 120


async def test_a_disabled_link_is_gone(client: httpx.AsyncClient, writer: Writers) -> None:
    ada = await writer("ada")
    link = await shorten(client, enabled=False, headers=ada.headers)
    assert (await follow(client, link["code"])).status_code == 410
    assert (await client.head(f"/{link['code']}")).status_code == 410


async def test_a_click_limit_is_used_up_then_gone(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    link = await shorten(client, max_clicks=3, headers=ada.headers)
    statuses = [(await follow(client, link["code"])).status_code for _ in range(5)]
    assert statuses == [302, 302, 302, 410, 410]
    assert (await client.head(f"/{link['code']}")).status_code == 410
    await app.state.shortener.flush()
    read = (await client.get(f"{LINKS}/{link['code']}", headers=ada.headers)).json()
    assert (read["clicks"], read["status"]) == (3, "exhausted")
    raised = await client.patch(
        f"{LINKS}/{link['code']}", json={"max_clicks": 4}, headers=ada.headers
    )
    assert raised.json()["status"] == "active"
    assert [(await follow(client, link["code"])).status_code for _ in range(2)] == [302, 410]


@pytest.mark.parametrize("limit", [1, 7])
async def test_a_click_limit_holds_under_concurrent_redirects(
    app: FastAPI, client: httpx.AsyncClient, limit: int
) -> None:
    link = await shorten(client, max_clicks=limit)
    responses = await asyncio.gather(*(follow(client, link["code"]) for _ in range(25)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [302] * limit + [410] * (25 - limit)
    await app.state.shortener.flush()
    async with app.state.db.read_session() as session:
        clicks = await session.scalar(select(Link.clicks).where(Link.code == link["code"]))
    assert clicks == limit
