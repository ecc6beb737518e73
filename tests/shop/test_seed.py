"""The shop's demo data goes through the services: valid attributes, stock reserved by the
demo orders, a browsable catalogue."""

from __future__ import annotations

import random

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from mainspring.accounts.models import User
from mainspring.shop.models import Order, Product
from mainspring.shop.seed import seed_demo
from tests.fixtures.users import NewUser
from tests.shop.catalog import SHOP


async def test_seed_demo_builds_a_browsable_shop(
    app: FastAPI, client: httpx.AsyncClient, new_user: NewUser
) -> None:
    for name in ("ada", "bob", "cy"):
        await new_user(name)
    async with app.state.db.session() as session:
        users = list((await session.scalars(select(User).order_by(User.username))).all())
        await seed_demo(session, users, random.Random(7), 24)
    async with app.state.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Product)) == 24
        assert await session.scalar(select(func.count()).select_from(Order)) == 3
    listing = await client.get(f"{SHOP}/products", params={"category": "clothing"})
    body = listing.json()
    assert body["total"] > 0
    assert set(body["facets"]["attributes"]) == {"colour", "material"}
