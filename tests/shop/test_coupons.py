"""Coupons over HTTP: staff create them; checkout applies them within their window, currency
and limits (the concurrent limits are in test_concurrency.py); and checkout is rate limited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fixtures.users import SignedInUser
from tests.shop.catalog import SHOP, add_to_cart, checkout, make_variant


async def _coupon(client: httpx.AsyncClient, staff: SignedInUser, **fields: Any) -> dict[str, Any]:
    response = await client.post(f"{SHOP}/coupons", json=fields, headers=staff.headers)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _at(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def test_a_percent_coupon_discounts_the_catalogue_subtotal(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    coupon = await _coupon(client, staff, code="save15", kind="percent", value=15)
    assert coupon["code"] == "SAVE15"
    _, variant_id = await make_variant(client, staff, price=1999)
    await add_to_cart(client, customer, variant_id, 3)
    order = (await checkout(client, customer, coupon_code="Save15")).json()
    assert (order["subtotal"], order["discount"], order["total"]) == (5997, 899, 5098)
    assert order["coupon_code"] == "SAVE15"
    listing = (await client.get(f"{SHOP}/coupons", headers=staff.headers)).json()
    assert listing["items"][0]["used_count"] == 1


@pytest.mark.parametrize(
    ("fields", "code", "status"),
    [
        ({"kind": "percent", "value": 10, "ends_at": _at(days=-1)}, "coupon-invalid", 409),
        ({"kind": "percent", "value": 10, "starts_at": _at(days=1)}, "coupon-invalid", 409),
        ({"kind": "fixed", "value": 500, "currency": "USD"}, "coupon-invalid", 409),
    ],
)
async def test_coupons_outside_their_window_or_currency_are_refused(
    client: httpx.AsyncClient,
    staff: SignedInUser,
    customer: SignedInUser,
    fields: dict[str, Any],
    code: str,
    status: int,
) -> None:
    await _coupon(client, staff, code="LIMITED", **fields)
    _, variant_id = await make_variant(client, staff)
    await add_to_cart(client, customer, variant_id)
    response = await checkout(client, customer, coupon_code="LIMITED")
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    # The refusal rolled the checkout back: the cart is still there, the stock untouched.
    assert (await client.get(f"{SHOP}/cart", headers=customer.headers)).json()["item_count"] == 1


async def test_unknown_deactivated_and_malformed_coupons(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    coupon = await _coupon(client, staff, code="GONE", kind="fixed", value=100, currency="EUR")
    assert (
        await client.delete(f"{SHOP}/coupons/{coupon['id']}", headers=staff.headers)
    ).status_code == 204
    _, variant_id = await make_variant(client, staff)
    await add_to_cart(client, customer, variant_id)
    assert (await checkout(client, customer, coupon_code="GONE")).status_code == 409
    unknown = await checkout(client, customer, coupon_code="NOPE")
    assert unknown.status_code == 409
    assert unknown.json()["code"] == "unknown-coupon"
    bad = await client.post(
        f"{SHOP}/coupons",
        json={"code": "X10", "kind": "percent", "value": 150},
        headers=staff.headers,
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["message"].endswith("a percent coupon's value is at most 100")
    backwards = await client.post(
        f"{SHOP}/coupons",
        json={
            "code": "BACKWARDS",
            "kind": "percent",
            "value": 5,
            "starts_at": "2027-01-02T00:00:00Z",
            "ends_at": "2027-01-01T00:00:00Z",
        },
        headers=staff.headers,
    )
    assert backwards.status_code == 400, backwards.text
    assert backwards.json()["code"] == "invalid-coupon-window"
    no_currency = await client.post(
        f"{SHOP}/coupons",
        json={"code": "FIX", "kind": "fixed", "value": 150},
        headers=staff.headers,
    )
    assert no_currency.status_code == 422
    by_customer = await client.post(
        f"{SHOP}/coupons",
        json={"code": "MINE", "kind": "percent", "value": 5},
        headers=customer.headers,
    )
    assert by_customer.status_code == 403


async def test_checkout_is_rate_limited_per_user(
    client: httpx.AsyncClient, customer: SignedInUser
) -> None:
    statuses = [(await checkout(client, customer)).status_code for _ in range(11)]
    assert statuses[:10] == [409] * 10  # an empty cart, but each attempt counts
    assert statuses[10] == 429
    limited = await checkout(client, customer)
    assert "retry-after" in limited.headers
