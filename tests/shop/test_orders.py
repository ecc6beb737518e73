"""Checkout and orders over HTTP: one transaction, prices from the catalogue, the required
Idempotency-Key, the state machine, reservations released, mails, privacy."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from mainspring.core.background import enqueue
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.shop.models import Order
from mainspring.shop.orders.states import TRANSITIONS
from tests.fixtures.jobs import DrainJobs
from tests.fixtures.mail import SMTPServer
from tests.fixtures.users import NewUser, SignedInUser
from tests.shop.catalog import SHOP, add_to_cart, checkout, make_variant, stock_of


@pytest.fixture
def settings(settings: Settings, smtp_server: SMTPServer) -> Settings:
    return smtp_server.configure(settings)


async def test_checkout_makes_an_order_at_the_catalogues_prices(
    client: httpx.AsyncClient,
    staff: SignedInUser,
    customer: SignedInUser,
    drain_jobs: DrainJobs,
    smtp_server: SMTPServer,
) -> None:
    product_id, variant_id = await make_variant(client, staff, price=1500, stock=5)
    await add_to_cart(client, customer, variant_id, 2)
    # The price rises after the customer filled the cart: checkout charges today's price.
    await client.patch(
        f"{SHOP}/products/{product_id}/variants/{variant_id}",
        json={"price": 1800},
        headers=staff.headers,
    )
    tampered = await checkout(client, customer, total=1)
    assert tampered.status_code == 422  # no price, total or line comes from the client

    response = await checkout(client, customer)
    assert response.status_code == 201, response.text
    order = response.json()
    assert response.headers["location"] == f"{SHOP}/orders/{order['id']}"
    assert (order["status"], order["subtotal"], order["total"]) == ("pending_payment", 3600, 3600)
    assert [(line["quantity"], line["unit_price"]) for line in order["lines"]] == [(2, 1800)]
    assert order["reserved_until"] is not None
    assert await stock_of(client, staff, product_id) == 3
    cart = (await client.get(f"{SHOP}/cart", headers=customer.headers)).json()
    assert cart["lines"] == []

    await drain_jobs()
    [mail] = smtp_server.messages
    assert mail.recipients == [customer.email]
    assert mail.subject.startswith(f"Your order {order['id']} is confirmed")
    assert "36.00 EUR" in mail.text

    mine = (await client.get(f"{SHOP}/orders", headers=customer.headers)).json()
    assert [o["id"] for o in mine["items"]] == [order["id"]]
    assert mine["items"][0]["item_count"] == 2


async def test_checkout_requires_an_idempotency_key_and_replays_a_retry(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    product_id, variant_id = await make_variant(client, staff, stock=5)
    await add_to_cart(client, customer, variant_id)
    missing = await client.post(f"{SHOP}/orders", json={}, headers=customer.headers)
    assert missing.status_code == 400
    assert missing.json()["code"] == "idempotency-key-required"

    key = str(uuid.uuid4())
    first = await checkout(client, customer, key)
    assert first.status_code == 201
    retry = await checkout(client, customer, key)
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == first.json()["id"]
    assert await stock_of(client, staff, product_id) == 4  # reserved once
    orders = (await client.get(f"{SHOP}/orders", headers=customer.headers)).json()
    assert orders["total"] == 1
    other_body = await client.post(
        f"{SHOP}/orders",
        json={"coupon_code": "OTHER"},
        headers=customer.with_headers(idempotency_key=key),
    )
    assert other_body.status_code == 422


async def test_an_empty_cart_short_stock_or_an_unpublished_product_make_no_order(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    empty = await checkout(client, customer)
    assert empty.status_code == 409
    assert empty.json()["code"] == "cart-empty"

    plenty_id, plenty = await make_variant(client, staff, stock=10)
    scarce_id, scarce = await make_variant(client, staff, stock=1)
    await add_to_cart(client, customer, plenty, 3)
    await add_to_cart(client, customer, scarce, 2)
    short = await checkout(client, customer)
    assert short.status_code == 409
    assert short.json()["code"] == "out-of-stock"
    # Nothing was reserved, not even the line that had enough.
    assert await stock_of(client, staff, plenty_id) == 10
    assert await stock_of(client, staff, scarce_id) == 1
    assert (await client.get(f"{SHOP}/orders", headers=customer.headers)).json()["total"] == 0

    await client.patch(
        f"{SHOP}/products/{scarce_id}", json={"published": False}, headers=staff.headers
    )
    gone = await checkout(client, customer)
    assert gone.status_code == 409
    assert gone.json()["code"] == "product-unavailable"


async def test_other_peoples_orders_are_invisible(
    client: httpx.AsyncClient, staff: SignedInUser, new_user: NewUser
) -> None:
    ada, bob = await new_user("ada"), await new_user("bob")
    _, variant_id = await make_variant(client, staff)
    await add_to_cart(client, ada, variant_id)
    order = (await checkout(client, ada)).json()
    url = f"{SHOP}/orders/{order['id']}"
    assert (await client.get(url, headers=bob.headers)).status_code == 404
    cancel = await client.post(f"{url}/transitions", json={"to": "cancelled"}, headers=bob.headers)
    assert cancel.status_code == 404
    assert (await client.get(f"{SHOP}/orders", headers=bob.headers)).json()["items"] == []
    assert (await client.get(url, headers=ada.headers)).status_code == 200
    assert (await client.get(url, headers=staff.headers)).status_code == 200
    assert (await client.get(f"{SHOP}/staff/orders", headers=bob.headers)).status_code == 403
    everything = await client.get(
        f"{SHOP}/staff/orders", params={"status": "pending_payment"}, headers=staff.headers
    )
    assert [o["id"] for o in everything.json()["items"]] == [order["id"]]
    etag = (await client.get(url, headers=ada.headers)).headers["etag"]
    cached = await client.get(url, headers=ada.with_headers(if_none_match=etag))
    assert cached.status_code == 304


async def test_a_customer_cancels_an_unpaid_order_and_the_stock_comes_back(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    product_id, variant_id = await make_variant(client, staff, stock=2)
    await add_to_cart(client, customer, variant_id, 2)
    order = (await checkout(client, customer)).json()
    assert await stock_of(client, staff, product_id) == 0
    url = f"{SHOP}/orders/{order['id']}/transitions"
    shipped = await client.post(url, json={"to": "shipped"}, headers=customer.headers)
    assert shipped.status_code == 409  # customers only cancel
    cancelled = await client.post(url, json={"to": "cancelled"}, headers=customer.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert await stock_of(client, staff, product_id) == 2
    again = await client.post(url, json={"to": "cancelled"}, headers=customer.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "illegal-transition"


async def test_unpaid_reservations_are_released_by_the_schedule(
    app: FastAPI,
    client: httpx.AsyncClient,
    staff: SignedInUser,
    customer: SignedInUser,
    drain_jobs: DrainJobs,
) -> None:
    product_id, variant_id = await make_variant(client, staff, stock=3)
    await add_to_cart(client, customer, variant_id, 3)
    order = (await checkout(client, customer)).json()
    await drain_jobs()  # the confirmation mail

    async def release() -> None:
        async with app.state.db.session() as session:
            await enqueue(session, "shop.release_expired_reservations", {})
        assert {o.status for o in await drain_jobs()} == {"done"}

    await release()  # not yet due
    assert (await client.get(f"{SHOP}/orders/{order['id']}", headers=customer.headers)).json()[
        "status"
    ] == "pending_payment"
    async with app.state.db.session() as session:
        await session.execute(update(Order).values(reserved_until=utcnow() - timedelta(minutes=1)))
    await release()
    body = (await client.get(f"{SHOP}/orders/{order['id']}", headers=customer.headers)).json()
    assert body["status"] == "cancelled"
    assert await stock_of(client, staff, product_id) == 3
    await release()  # a second run releases nothing twice
    assert await stock_of(client, staff, product_id) == 3


ILLEGAL = [
    (current, target)
    for current in TRANSITIONS
    for target in ("fulfilled", "shipped", "delivered", "cancelled")
    if target not in TRANSITIONS[current]
]


async def _order_in(
    app: FastAPI,
    client: httpx.AsyncClient,
    staff: SignedInUser,
    customer: SignedInUser,
    status: str,
) -> str:
    """An order forced into ``status`` (the test sets up the state, the API is tested)."""
    _, variant_id = await make_variant(client, staff)
    await add_to_cart(client, customer, variant_id)
    order_id: str = (await checkout(client, customer)).json()["id"]
    async with app.state.db.session() as session:
        await session.execute(
            update(Order).where(Order.id == uuid.UUID(order_id)).values(status=status)
        )
    return order_id


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
async def test_every_illegal_transition_is_refused(
    app: FastAPI,
    client: httpx.AsyncClient,
    staff: SignedInUser,
    customer: SignedInUser,
    current: str,
    target: str,
) -> None:
    order_id = await _order_in(app, client, staff, customer, current)
    response = await client.post(
        f"{SHOP}/orders/{order_id}/transitions", json={"to": target}, headers=staff.headers
    )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "illegal-transition"
    body = (await client.get(f"{SHOP}/orders/{order_id}", headers=staff.headers)).json()
    assert body["status"] == current


async def test_staff_move_a_paid_order_to_delivery_and_the_customer_hears_of_shipping(
    app: FastAPI,
    client: httpx.AsyncClient,
    staff: SignedInUser,
    customer: SignedInUser,
    drain_jobs: DrainJobs,
    smtp_server: SMTPServer,
) -> None:
    order_id = await _order_in(app, client, staff, customer, "paid")
    for target in ("fulfilled", "shipped", "delivered"):
        response = await client.post(
            f"{SHOP}/orders/{order_id}/transitions", json={"to": target}, headers=staff.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == target
    manual_pay = await client.post(
        f"{SHOP}/orders/{order_id}/transitions", json={"to": "paid"}, headers=staff.headers
    )
    assert manual_pay.status_code == 422  # paid comes from a payment only
    await drain_jobs()
    # The jobs run side by side: the checkout's confirmation may arrive after the shipping news.
    subjects = [m.subject for m in smtp_server.messages]
    assert subjects.count(f"Your order {order_id} has shipped") == 1
