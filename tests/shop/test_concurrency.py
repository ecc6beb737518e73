"""Concurrency proofs over HTTP: 50 customers check out at once on the last 10 units and
exactly 10 orders exist; a coupon limited to 5 uses is used exactly 5 times by 20 concurrent
checkouts; one customer racing two checkouts with a once-per-user coupon gets it once.

The requests really overlap: ``asyncio.gather`` over the ASGI app, each request with its own
database session and transaction, on SQLite (writers queue on ``BEGIN IMMEDIATE``) and on
PostgreSQL (row locks and the re-checked conditions of the UPDATEs) when it is configured.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mainspring.core.config import Settings
from mainspring.shop.models import Coupon, Order, Variant
from tests.fixtures.users import NewUser, SignedInUser
from tests.shop.catalog import SHOP, add_to_cart, checkout, make_variant

BUYERS = 50
UNITS = 10


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Room for 50 requests at once on a loaded machine: enough pooled connections, patient
    connects and lock waits (the checkouts queue on one row), so that each request reaches the
    database and waits its turn: what is tested is what the database then decides, not how a
    busy machine's timeouts fire."""
    return settings.model_copy(
        update={
            "database_pool_size": 25,
            "database_max_overflow": 30,
            "database_connect_timeout_seconds": 30.0,
            "database_pool_timeout_seconds": 60.0,
            "database_statement_timeout_ms": 60_000,  # row-lock waits count on PostgreSQL
            "sqlite_busy_timeout_ms": 60_000,
        }
    )


async def _buyers(
    client: httpx.AsyncClient, new_user: NewUser, variant_id: str, count: int
) -> list[SignedInUser]:
    people = [await new_user(f"buyer{i}") for i in range(count)]
    for person in people:
        await add_to_cart(client, person, variant_id)
    return people


async def test_fifty_checkouts_on_the_last_ten_units_make_exactly_ten_orders(
    app: FastAPI, client: httpx.AsyncClient, staff: SignedInUser, new_user: NewUser
) -> None:
    _, variant_id = await make_variant(client, staff, stock=UNITS)
    people = await _buyers(client, new_user, variant_id, BUYERS)

    responses = await asyncio.gather(*(checkout(client, person) for person in people))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * UNITS + [409] * (BUYERS - UNITS), statuses
    refusals = {r.json()["code"] for r in responses if r.status_code == 409}
    assert refusals == {"out-of-stock"}
    async with app.state.db.session() as session:
        orders = await session.scalar(select(func.count()).select_from(Order))
        stock = await session.scalar(select(Variant.stock))
    assert (orders, stock) == (UNITS, 0)


async def test_a_coupons_total_limit_holds_under_concurrent_checkouts(
    app: FastAPI, client: httpx.AsyncClient, staff: SignedInUser, new_user: NewUser
) -> None:
    created = await client.post(
        f"{SHOP}/coupons",
        json={"code": "FIRST5", "kind": "percent", "value": 20, "max_uses": 5},
        headers=staff.headers,
    )
    assert created.status_code == 201, created.text
    _, variant_id = await make_variant(client, staff, price=1000, stock=100)
    people = await _buyers(client, new_user, variant_id, 20)

    responses = await asyncio.gather(
        *(checkout(client, person, coupon_code="first5") for person in people)
    )

    made = [r.json() for r in responses if r.status_code == 201]
    assert len(made) == 5
    assert {(o["discount"], o["total"]) for o in made} == {(200, 800)}
    assert {r.json()["code"] for r in responses if r.status_code != 201} == {"coupon-invalid"}
    async with app.state.db.session() as session:
        assert await session.scalar(select(Coupon.used_count)) == 5
        assert await session.scalar(select(func.count()).select_from(Order)) == 5


async def test_a_once_per_customer_coupon_is_used_once_by_racing_checkouts(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    await client.post(
        f"{SHOP}/coupons",
        json={
            "code": "ONCE",
            "kind": "fixed",
            "value": 300,
            "currency": "EUR",
            "max_uses_per_user": 1,
        },
        headers=staff.headers,
    )
    _, variant_id = await make_variant(client, staff, price=1000, stock=100)
    await add_to_cart(client, customer, variant_id)

    # Two checkouts of one cart at once: one order; the other finds the cart empty or the
    # coupon used.
    responses = await asyncio.gather(
        *(checkout(client, customer, coupon_code="ONCE") for _ in range(2))
    )
    assert sorted(r.status_code for r in responses) == [201, 409]

    await add_to_cart(client, customer, variant_id)
    again = await checkout(client, customer, coupon_code="ONCE")
    assert again.status_code == 409
    assert again.json()["code"] == "coupon-invalid"
    without = await checkout(client, customer)
    assert without.status_code == 201
