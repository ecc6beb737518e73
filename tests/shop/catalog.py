"""Building blocks of the shop's tests: a catalogue made through the staff API."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.fixtures.users import SignedInUser

SHOP = "/api/v1/shop"


async def make_category(
    client: httpx.AsyncClient,
    staff: SignedInUser,
    slug: str | None = None,
    *,
    parent_id: str | None = None,
    attribute_schema: dict[str, Any] | None = None,
) -> dict[str, Any]:
    slug = slug or f"cat-{uuid.uuid4().hex[:8]}"
    response = await client.post(
        f"{SHOP}/categories",
        json={
            "slug": slug,
            "name": slug.title(),
            "parent_id": parent_id,
            "attribute_schema": attribute_schema or {},
        },
        headers=staff.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_product(
    client: httpx.AsyncClient,
    staff: SignedInUser,
    category_id: str,
    *,
    slug: str | None = None,
    name: str = "Plain shirt",
    price: int = 1000,
    stock: int = 10,
    attributes: dict[str, Any] | None = None,
    published: bool = True,
    currency: str = "EUR",
    variants: list[dict[str, Any]] | None = None,
    description: str = "",
) -> dict[str, Any]:
    slug = slug or f"p-{uuid.uuid4().hex[:10]}"
    response = await client.post(
        f"{SHOP}/products",
        json={
            "slug": slug,
            "name": name,
            "description": description,
            "category_id": category_id,
            "currency": currency,
            "attributes": attributes or {},
            "published": published,
            "variants": variants
            or [{"sku": f"SKU-{uuid.uuid4().hex[:10]}", "price": price, "stock": stock}],
        },
        headers=staff.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_variant(
    client: httpx.AsyncClient,
    staff: SignedInUser,
    *,
    price: int = 1000,
    stock: int = 10,
    currency: str = "EUR",
    name: str = "Plain shirt",
) -> tuple[str, str]:
    """A published product with one variant: (product id, variant id)."""
    category = await make_category(client, staff)
    product = await make_product(
        client, staff, category["id"], price=price, stock=stock, currency=currency, name=name
    )
    return product["id"], product["variants"][0]["id"]


async def add_to_cart(
    client: httpx.AsyncClient, user: SignedInUser, variant_id: str, quantity: int = 1
) -> dict[str, Any]:
    response = await client.post(
        f"{SHOP}/cart/lines",
        json={"variant_id": variant_id, "quantity": quantity},
        headers=user.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def checkout(
    client: httpx.AsyncClient, user: SignedInUser, key: str | None = None, **body: Any
) -> httpx.Response:
    """``POST /shop/orders`` with a fresh ``Idempotency-Key`` (or ``key``)."""
    return await client.post(
        f"{SHOP}/orders",
        json=body,
        headers=user.with_headers(idempotency_key=key or str(uuid.uuid4())),
    )


async def stock_of(client: httpx.AsyncClient, staff: SignedInUser, product_id: str) -> int:
    """The stock of a product's first variant, read through the staff API."""
    response = await client.get(f"{SHOP}/staff/products/{product_id}", headers=staff.headers)
    assert response.status_code == 200, response.text
    return int(response.json()["variants"][0]["stock"])
