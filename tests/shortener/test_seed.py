"""The demo data keeps the invariants the service keeps, and works through the API."""

from __future__ import annotations

import random
from collections import Counter

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from mainspring.accounts.models import User
from mainspring.shortener.models import Click, Link
from mainspring.shortener.seed import insert_links, seed_demo
from tests.fixtures.users import NewUser as Writers
from tests.shortener.conftest import LINKS


async def test_seed_demo_builds_consistent_links(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    await writer("bob")
    async with app.state.db.session() as session:
        users = list((await session.scalars(select(User).order_by(User.username))).all())
        await seed_demo(session, users, random.Random(7), 120)
    async with app.state.db.session() as session:  # seeding twice adds links, never collides
        codes = await insert_links(session, users, random.Random(7), 30)
    async with app.state.db.read_session() as session:
        links = (await session.scalars(select(Link))).all()
        clicks = Counter((await session.scalars(select(Click.link_id))).all())
    assert len(links) == 150
    assert len({link.code_key for link in links}) == 150
    assert all(link.code_key == link.code.lower() for link in links)
    assert all(link.clicks == clicks[link.id] for link in links)
    assert sum(clicks.values()) > 0

    mine = await client.get(LINKS, params={"sort": "-clicks"}, headers=ada.headers)
    assert mine.json()["total"] == 75
    top = mine.json()["items"][0]
    stats = await client.get(f"{LINKS}/{top['code']}/stats", headers=ada.headers)
    assert stats.json()["clicks"] == top["clicks"]
    assert (await client.get(f"/{codes[0]}")).status_code in (301, 302)
