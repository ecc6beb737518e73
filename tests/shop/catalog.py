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
