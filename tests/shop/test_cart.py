"""Carts over HTTP: a user's cart, guest carts by token and their merge at sign-in, lines,
today's prices, expiry, and other people's carts out of reach."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from mainspring.core.db import utcnow
from mainspring.shop.models import Cart
from tests.fixtures.users import NewUser, SignedInUser
from tests.shop.catalog import SHOP, make_category, make_product


async def _variant(
    client: httpx.AsyncClient,
    staff: SignedInUser,
    *,
    price: int = 1000,
    stock: int = 5,
    currency: str = "EUR",
) -> tuple[str, str]:
    category = await make_category(client, staff)
    product = await make_product(
        client, staff, category["id"], price=price, stock=stock, currency=currency
    )
    return product["id"], product["variants"][0]["id"]


async def test_a_user_fills_changes_and_empties_a_cart(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    empty = await client.get(f"{SHOP}/cart", headers=customer.headers)
    assert empty.status_code == 200
    assert empty.json()["lines"] == []
    assert empty.json()["id"] is None

    product_id, variant_id = await _variant(client, staff, price=1250)
    added = await client.post(
        f"{SHOP}/cart/lines",
        json={"variant_id": variant_id, "quantity": 2},
        headers=customer.headers,
    )
    assert added.status_code == 200, added.text
    again = await client.post(
        f"{SHOP}/cart/lines", json={"variant_id": variant_id}, headers=customer.headers
    )
    cart = again.json()
    assert [(line["quantity"], line["line_total"]) for line in cart["lines"]] == [(3, 3750)]
    assert (cart["subtotal"], cart["item_count"], cart["currency"]) == (3750, 3, "EUR")
    assert cart["lines"][0]["available"] is True

    # The client never sets a price: the field is refused, and the catalogue's price is shown.
    tampered = await client.post(
        f"{SHOP}/cart/lines",
        json={"variant_id": variant_id, "quantity": 1, "unit_price": 1},
        headers=customer.headers,
    )
    assert tampered.status_code == 422
    await client.patch(
        f"{SHOP}/products/{product_id}/variants/{variant_id}",
        json={"price": 2000},
        headers=staff.headers,
    )
    repriced = (await client.get(f"{SHOP}/cart", headers=customer.headers)).json()
    assert repriced["subtotal"] == 6000

    line_id = cart["lines"][0]["id"]
    changed = await client.patch(
        f"{SHOP}/cart/lines/{line_id}", json={"quantity": 9}, headers=customer.headers
    )
    assert changed.json()["lines"][0]["available"] is False  # 9 > 5 in stock
    too_many = await client.patch(
        f"{SHOP}/cart/lines/{line_id}", json={"quantity": 100}, headers=customer.headers
    )
    assert too_many.status_code == 422

    _, dollars = await _variant(client, staff, currency="USD")
    mixed = await client.post(
        f"{SHOP}/cart/lines", json={"variant_id": dollars}, headers=customer.headers
    )
    assert mixed.status_code == 409
    assert mixed.json()["code"] == "currency-mismatch"

    removed = await client.delete(f"{SHOP}/cart/lines/{line_id}", headers=customer.headers)
    assert removed.status_code == 204
    assert (await client.get(f"{SHOP}/cart", headers=customer.headers)).json()["lines"] == []


async def test_unknown_or_unpublished_variants_are_refused_and_other_peoples_lines_not_found(
    client: httpx.AsyncClient, staff: SignedInUser, new_user: NewUser
) -> None:
    ada, bob = await new_user("ada"), await new_user("bob")
    category = await make_category(client, staff)
    hidden = await make_product(client, staff, category["id"], published=False)
    refused = await client.post(
        f"{SHOP}/cart/lines", json={"variant_id": hidden["variants"][0]["id"]}, headers=ada.headers
    )
    assert refused.status_code == 409  # the body names no sellable variant; the cart exists
    assert refused.json()["code"] == "unknown-variant"

    _, variant_id = await _variant(client, staff)
    cart = (
        await client.post(
            f"{SHOP}/cart/lines", json={"variant_id": variant_id}, headers=ada.headers
        )
    ).json()
    line_id = cart["lines"][0]["id"]
    for method in ("PATCH", "DELETE"):
        response = await client.request(
            method, f"{SHOP}/cart/lines/{line_id}", json={"quantity": 1}, headers=bob.headers
        )
        assert response.status_code == 404
    assert (await client.get(f"{SHOP}/cart")).status_code == 401


async def test_a_guest_cart_merges_into_the_users_cart_after_sign_in(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    _, first = await _variant(client, staff)
    _, second = await _variant(client, staff)
    guest = await client.post(f"{SHOP}/carts")
    assert guest.status_code == 201
    token = guest.json()["token"]
    headers = {"X-Cart-Token": token}
    await client.post(
        f"{SHOP}/cart/lines", json={"variant_id": first, "quantity": 2}, headers=headers
    )
    await client.post(f"{SHOP}/cart/lines", json={"variant_id": second}, headers=headers)
    assert (await client.get(f"{SHOP}/cart", headers=headers)).json()["item_count"] == 3
    bad = await client.get(f"{SHOP}/cart", headers={"X-Cart-Token": "x" * 43})
    assert bad.status_code == 404

    await client.post(f"{SHOP}/cart/lines", json={"variant_id": first}, headers=customer.headers)
    merged = await client.post(
        f"{SHOP}/cart/merge", json={"token": token}, headers=customer.headers
    )
    assert merged.status_code == 200, merged.text
    quantities = {line["variant_id"]: line["quantity"] for line in merged.json()["lines"]}
    assert quantities == {first: 3, second: 1}
    # The guest cart is gone: its token is dead.
    assert (await client.get(f"{SHOP}/cart", headers=headers)).status_code == 404
    again = await client.post(f"{SHOP}/cart/merge", json={"token": token}, headers=customer.headers)
    assert again.status_code == 404


async def test_an_expired_cart_is_empty_and_a_guest_cart_gone(
    app: FastAPI, client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    _, variant_id = await _variant(client, staff)
    await client.post(
        f"{SHOP}/cart/lines", json={"variant_id": variant_id}, headers=customer.headers
    )
    token = (await client.post(f"{SHOP}/carts")).json()["token"]
    async with app.state.db.session() as session:
        await session.execute(update(Cart).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert (await client.get(f"{SHOP}/cart", headers=customer.headers)).json()["lines"] == []
    assert (await client.get(f"{SHOP}/cart", headers={"X-Cart-Token": token})).status_code == 404


async def test_quantities_are_json_integers(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    """``2.0`` is an integer in JSON Schema, as the document says; ``"2"`` and ``true`` are not."""
    _, variant_id = await _variant(client, staff)
    lines = f"{SHOP}/cart/lines"
    whole = await client.post(
        lines, json={"variant_id": variant_id, "quantity": 2.0}, headers=customer.headers
    )
    assert whole.status_code == 200, whole.text
    assert whole.json()["item_count"] == 2
    for wrong in ("2", True, 2.5):
        refused = await client.post(
            lines, json={"variant_id": variant_id, "quantity": wrong}, headers=customer.headers
        )
        assert refused.status_code == 422, (wrong, refused.text)
    cart = await client.get(f"{SHOP}/cart", headers=customer.headers)
    assert cart.json()["item_count"] == 2
