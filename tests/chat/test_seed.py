"""The demo data keeps the invariants the services keep, and reads back over HTTP."""

from __future__ import annotations

import random

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from mainspring.accounts.models import User
from mainspring.chat.seed import seed_demo
from tests.fixtures.users import People


async def test_seed_demo_builds_readable_rooms(
    app: FastAPI, client: httpx.AsyncClient, people: People
) -> None:
    ada, *_ = await people(4)
    async with app.state.db.session() as session:
        users = list((await session.scalars(select(User).order_by(User.created_at))).all())
        await seed_demo(session, users, random.Random(7), 120)
    rooms = (await client.get("/api/v1/chat/rooms", headers=ada.headers)).json()
    assert {r["kind"] for r in rooms["items"]} >= {"public", "direct"}
    total = 0
    for room in rooms["items"]:
        assert 0 <= room["unread"] <= room["last_seq"]
        history = (
            await client.get(
                f"/api/v1/chat/rooms/{room['id']}/messages?limit=100", headers=ada.headers
            )
        ).json()
        seqs = [m["seq"] for m in history["items"]]
        assert seqs == list(range(max(1, room["last_seq"] - 99), room["last_seq"] + 1))
        total += room["last_seq"]
    assert total > 0
