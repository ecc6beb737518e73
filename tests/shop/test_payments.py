"""Payments over HTTP: the manual provider, Stripe end to end against localstripe (payment,
verified webhooks processed once, refunds full and partial), signature failures, and an
order paid after its reservation expired refunded at once."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import update

from mainspring.core.config import Settings
from mainspring.shop.models import Order
from tests.fixtures.jobs import DrainJobs
from tests.fixtures.mail import SMTPServer
from tests.fixtures.users import SignedInUser
from tests.shop.catalog import SHOP, add_to_cart, checkout, make_variant, stock_of
from tests.shop.stripe_server import WEBHOOK_SECRET, StripeServer, signed, stripe_server

__all__ = ["stripe_server"]


@pytest.fixture
def settings(settings: Settings, smtp_server: SMTPServer, stripe_server: StripeServer) -> Settings:
    settings = smtp_server.configure(settings)
    return settings.model_copy(
        update={
            "shop_stripe_secret_key": SecretStr("sk_test_mainspring"),
            "shop_stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
            "shop_stripe_api_base": stripe_server.url,
        }
    )


async def _order(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser, price: int = 2500
) -> dict[str, Any]:
    _, variant_id = await make_variant(client, staff, price=price, stock=5)
    await add_to_cart(client, customer, variant_id, 2)
    response = await checkout(client, customer)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _pay(
    client: httpx.AsyncClient,
    customer: SignedInUser,
    order_id: str,
    provider: str,
    key: str | None = None,
) -> httpx.Response:
    return await client.post(
        f"{SHOP}/orders/{order_id}/payments",
        json={"provider": provider},
        headers=customer.with_headers(idempotency_key=key or str(uuid.uuid4())),
    )


def _event(intent: dict[str, Any], kind: str = "payment_intent.succeeded") -> dict[str, Any]:
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "type": kind,
        "data": {"object": intent},
    }


async def _status(client: httpx.AsyncClient, user: SignedInUser, order_id: str) -> str:
    response = await client.get(f"{SHOP}/orders/{order_id}", headers=user.headers)
    return str(response.json()["status"])


async def test_a_manual_payment_confirmed_by_staff_pays_the_order(
    client: httpx.AsyncClient,
    staff: SignedInUser,
    customer: SignedInUser,
    drain_jobs: DrainJobs,
    smtp_server: SMTPServer,
) -> None:
    order = await _order(client, staff, customer)
    missing_key = await client.post(
        f"{SHOP}/orders/{order['id']}/payments",
        json={"provider": "manual"},
        headers=customer.headers,
    )
    assert missing_key.status_code == 400
    payment = await _pay(client, customer, order["id"], "manual")
    assert payment.status_code == 201, payment.text
    assert (payment.json()["amount"], payment.json()["status"]) == (5000, "pending")
    payment_id = payment.json()["id"]
    by_customer = await client.post(
        f"{SHOP}/payments/{payment_id}/confirm", headers=customer.headers
    )
    assert by_customer.status_code == 403
    confirmed = await client.post(f"{SHOP}/payments/{payment_id}/confirm", headers=staff.headers)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "succeeded"
    assert await _status(client, customer, order["id"]) == "paid"
    twice = await client.post(f"{SHOP}/payments/{payment_id}/confirm", headers=staff.headers)
    assert twice.status_code == 409
    again = await _pay(client, customer, order["id"], "manual")
    assert again.status_code == 409  # a paid order is not paid twice
    await drain_jobs()
    subjects = [m.subject for m in smtp_server.messages]
    assert f"Payment received for order {order['id']}" in subjects


async def test_stripe_end_to_end_webhook_once_and_refunds(
    client: httpx.AsyncClient,
    staff: SignedInUser,
    customer: SignedInUser,
    stripe_server: StripeServer,
    drain_jobs: DrainJobs,
    smtp_server: SMTPServer,
) -> None:
    order = await _order(client, staff, customer)
    key = str(uuid.uuid4())
    started = await _pay(client, customer, order["id"], "stripe", key)
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["provider_ref"].startswith("pi_")
    assert payment["client_secret"]
    replay = await _pay(client, customer, order["id"], "stripe", key)
    assert replay.json()["provider_ref"] == payment["provider_ref"]  # no second PaymentIntent

    intent = await stripe_server.pay(payment["provider_ref"])
    assert intent["amount"] == 5000

    event = _event(intent)
    body, headers = signed(event)
    delivered = await client.post(f"{SHOP}/webhooks/stripe", content=body, headers=headers)
    assert delivered.status_code == 200, delivered.text
    assert delivered.json() == {"received": True, "duplicate": False}
    assert await _status(client, customer, order["id"]) == "paid"
    redelivered = await client.post(f"{SHOP}/webhooks/stripe", content=body, headers=headers)
    assert redelivered.json() == {"received": True, "duplicate": True}
    await drain_jobs()
    received = [m for m in smtp_server.messages if m.subject.startswith("Payment received")]
    assert len(received) == 1  # the redelivery changed nothing

    url = f"{SHOP}/orders/{order['id']}/refunds"
    refund_key = {"idempotency_key": str(uuid.uuid4())}
    by_customer = await client.post(
        url, json={"amount": 100}, headers=customer.with_headers(**refund_key)
    )
    assert by_customer.status_code == 403
    partial = await client.post(
        url,
        json={"amount": 1500, "reason": "one damaged"},
        headers=staff.with_headers(**refund_key),
    )
    assert partial.status_code == 201, partial.text
    assert await _status(client, customer, order["id"]) == "paid"
    too_much = await client.post(
        url, json={"amount": 4000}, headers=staff.with_headers(idempotency_key=str(uuid.uuid4()))
    )
    assert too_much.status_code == 409
    assert too_much.json()["code"] == "refund-too-large"
    rest = await client.post(
        url, json={}, headers=staff.with_headers(idempotency_key=str(uuid.uuid4()))
    )
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == 3500
    detail = (await client.get(f"{SHOP}/orders/{order['id']}", headers=customer.headers)).json()
    assert (detail["status"], detail["refunded_amount"]) == ("refunded", 5000)
    assert sorted(await stripe_server.refunds(payment["provider_ref"])) == [1500, 3500]


@pytest.mark.parametrize(
    "tamper",
    ["wrong-secret", "old-timestamp", "no-header", "changed-body"],
)
async def test_webhooks_that_do_not_verify_are_refused(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser, tamper: str
) -> None:
    order = await _order(client, staff, customer)
    payment = (await _pay(client, customer, order["id"], "stripe")).json()
    intent = {
        "id": payment["provider_ref"],
        "object": "payment_intent",
        "amount": 5000,
        "currency": "eur",
    }
    event = _event(intent)
    body, headers = signed(
        event,
        secret="whsec_wrong" if tamper == "wrong-secret" else WEBHOOK_SECRET,
        at=int(time.time()) - 3600 if tamper == "old-timestamp" else None,
    )
    if tamper == "no-header":
        headers.pop("Stripe-Signature")
    if tamper == "changed-body":
        body = body.replace(b"5000", b"5001")
    response = await client.post(f"{SHOP}/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid-webhook-signature"
    assert await _status(client, customer, order["id"]) == "pending_payment"


async def test_a_payment_for_an_order_cancelled_meanwhile_is_refunded_at_once(
    app: FastAPI,
    client: httpx.AsyncClient,
    staff: SignedInUser,
    customer: SignedInUser,
    stripe_server: StripeServer,
) -> None:
    order = await _order(client, staff, customer)
    payment = (await _pay(client, customer, order["id"], "stripe")).json()
    intent = await stripe_server.pay(payment["provider_ref"])
    async with app.state.db.session() as session:
        await session.execute(update(Order).values(status="cancelled"))
    body, headers = signed(_event(intent))
    assert (
        await client.post(f"{SHOP}/webhooks/stripe", content=body, headers=headers)
    ).status_code == 200
    assert await _status(client, customer, order["id"]) == "cancelled"
    assert await stripe_server.refunds(payment["provider_ref"]) == [5000]
    payments = (
        await client.get(f"{SHOP}/orders/{order['id']}/payments", headers=customer.headers)
    ).json()
    assert (payments[0]["status"], payments[0]["refunded_amount"]) == ("succeeded", 5000)


async def test_an_unconfigured_stripe_or_someone_elses_order_cannot_be_paid(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser, new_user: Any
) -> None:
    order = await _order(client, staff, customer)
    other = await new_user("mallory")
    assert (await _pay(client, other, order["id"], "manual")).status_code == 404
    listing = await client.get(f"{SHOP}/orders/{order['id']}/payments", headers=other.headers)
    assert listing.status_code == 404
    assert await stock_of(client, staff, order["lines"][0]["product_id"]) == 3
