"""Clicks: recorded without the address, buffered, flushed in batches with none lost, and
summed up by the stats endpoint."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select

from mainspring.core.config import Settings
from mainspring.core.db import uuid7
from mainspring.shortener.models import Click, Link
from tests.fixtures.users import NewUser as Writers
from tests.shortener.conftest import BROWSER, LINKS, shorten, shortener_settings_of

DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A burst of 300 click-limited redirects is 300 write transactions, one at a time on
    SQLite: on a loaded machine the last ones wait longer than the 2 s pool timeout, and the
    service sheds them with a 503 as it should. These tests count clicks, not shed load, so
    their requests may wait."""
    return settings.model_copy(update={"database_pool_timeout_seconds": 30.0})


REFERRERS = ["https://news.example/item?id=1&token=secret", "https://social.example/p/2", ""]


@pytest.mark.parametrize(
    "shortener_settings",
    # a small batch and a short period: flushes run while the burst is still arriving
    [shortener_settings_of(click_batch_size=40, click_flush_seconds=0.05)],
)
async def test_a_burst_of_concurrent_redirects_loses_no_click(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    link = await shorten(client, alias="burst", headers=ada.headers)
    limited = await shorten(client, alias="limited", max_clicks=1000, headers=ada.headers)

    def visit(i: int, code: str) -> httpx.Request:
        headers = {
            "X-Forwarded-For": f"203.0.113.{i % 10}",
            "User-Agent": BROWSER if i % 2 else DESKTOP,
        }
        if REFERRERS[i % 3]:
            headers["Referer"] = REFERRERS[i % 3]
        return client.build_request("GET", f"/{code}", headers=headers)

    responses = await asyncio.gather(
        *(client.send(visit(i, code)) for i in range(300) for code in ("burst", "limited"))
    )
    assert all(response.status_code == 302 for response in responses)
    await app.state.shortener.flush()

    for code in ("burst", "limited"):
        stats = (await client.get(f"{LINKS}/{code}/stats", headers=ada.headers)).json()
        assert stats["clicks"] == stats["total_clicks"] == 300
        assert stats["uniques"] == 10  # 10 addresses x 2 agents, but i%10 fixes the agent
        assert stats["by_day"] == [
            {"day": datetime.now(UTC).date().isoformat(), "clicks": 300, "uniques": 10}
        ]
        assert {share["name"]: share["clicks"] for share in stats["referrers"]} == {
            "news.example": 100,
            "social.example": 100,
            "direct": 100,
        }
        assert {share["name"]: share["clicks"] for share in stats["devices"]} == {
            "mobile": 150,
            "desktop": 150,
        }
        assert {share["name"]: share["clicks"] for share in stats["browsers"]} == {
            "Safari": 150,
            "Chrome": 150,
        }
    assert link["code"] == "burst"
    assert limited["max_clicks"] == 1000

    async with app.state.db.read_session() as session:
        clicks = (await session.execute(select(Click))).scalars().all()
    assert len(clicks) == 600
    stored = " ".join(f"{c.referrer_host} {c.browser} {c.device} {c.visitor}" for c in clicks)
    assert "203.0.113" not in stored  # never the address
    assert "token=secret" not in stored  # never the referrer's path or query
    assert all(len(c.visitor) == 32 for c in clicks)


async def test_stats_cover_the_chosen_range(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    link = await shorten(client, headers=ada.headers)
    today = datetime.now(UTC).date()
    async with app.state.db.session() as session:
        link_id = await session.scalar(select(Link.id).where(Link.code == link["code"]))
        await session.execute(
            insert(Click),
            [
                {
                    "id": uuid7(),
                    "link_id": link_id,
                    "clicked_at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
                    "day": day,
                    "referrer_host": None,
                    "browser": "Firefox",
                    "device": "desktop",
                    "visitor": f"{n:032x}",
                }
                for n, day in enumerate(
                    [today - timedelta(days=40)] + [today - timedelta(days=3)] * 2 + [today]
                )
            ],
        )
    path = f"{LINKS}/{link['code']}/stats"
    default = (await client.get(path, headers=ada.headers)).json()
    assert (default["start"], default["end"]) == (str(today - timedelta(days=29)), str(today))
    assert default["clicks"] == 3
    assert [day["clicks"] for day in default["by_day"]] == [2, 1]
    window = {"start": str(today - timedelta(days=60)), "end": str(today - timedelta(days=3))}
    assert (await client.get(path, params=window, headers=ada.headers)).json()["clicks"] == 3
    backwards = {"start": str(today), "end": str(today - timedelta(days=1))}
    too_long = {"start": str(date(2020, 1, 1)), "end": str(today)}
    for refused in (backwards, too_long):  # valid dates, a range the service refuses
        response = await client.get(path, params=refused, headers=ada.headers)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid-range"
    assert (await client.get(path, headers=bob.headers)).status_code == 404


async def test_clicks_of_a_deleted_link_are_dropped_at_the_flush(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    kept, deleted = (
        await shorten(client, headers=ada.headers),
        await shorten(client, headers=ada.headers),
    )
    for link in (kept, deleted):
        assert (await client.get(f"/{link['code']}")).status_code == 302
    await client.delete(f"{LINKS}/{deleted['code']}", headers=ada.headers)
    assert await app.state.shortener.flush() == 1
    read = await client.get(f"{LINKS}/{kept['code']}", headers=ada.headers)
    assert read.json()["clicks"] == 1


@pytest.mark.parametrize("shortener_settings", [shortener_settings_of(click_buffer_max=5)])
async def test_the_buffer_is_bounded(app: FastAPI, client: httpx.AsyncClient) -> None:
    link = await shorten(client)
    for _ in range(8):
        assert (await client.get(f"/{link['code']}")).status_code == 302  # never refused
    assert len(app.state.shortener.clicks) == 5
    assert await app.state.shortener.flush() == 5


async def test_clicks_are_flushed_when_the_app_stops(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    link = await shorten(client)
    await client.get(f"/{link['code']}")
    await app.state.shortener.stop()  # what the lifespan's shutdown runs
    assert len(app.state.shortener.clicks) == 0
    async with app.state.db.read_session() as session:
        assert await session.scalar(select(Link.clicks).where(Link.code == link["code"])) == 1
