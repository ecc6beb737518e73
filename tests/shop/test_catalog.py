"""The catalogue over HTTP: the category tree, attribute validation, staff-only writes, the
filtered list with totals and facets, product details with ETags."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.users import SignedInUser
from tests.shop.catalog import SHOP, make_category, make_product

CLOTHING_SCHEMA: dict[str, Any] = {
    "colour": {"type": "string", "values": ["red", "blue", "green"]},
    "organic": {"type": "boolean"},
}
SHIRT_SCHEMA: dict[str, Any] = {
    "size": {"type": "string", "values": ["S", "M", "L"], "required": True}
}


async def _tree(client: httpx.AsyncClient, staff: SignedInUser) -> tuple[dict[str, Any], ...]:
    clothing = await make_category(client, staff, "clothing", attribute_schema=CLOTHING_SCHEMA)
    shirts = await make_category(
        client, staff, "shirts", parent_id=clothing["id"], attribute_schema=SHIRT_SCHEMA
    )
    toys = await make_category(client, staff, "toys")
    return clothing, shirts, toys


async def test_categories_form_a_tree_and_only_staff_manage_them(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    clothing, shirts, _ = await _tree(client, staff)
    assert shirts["path"] == "/clothing/shirts/"
    assert shirts["parent_id"] == clothing["id"]

    refused = await client.post(
        f"{SHOP}/categories", json={"slug": "x", "name": "X"}, headers=customer.headers
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert (
        await client.post(f"{SHOP}/categories", json={"slug": "x", "name": "X"})
    ).status_code == 401

    taken = await client.post(
        f"{SHOP}/categories", json={"slug": "shirts", "name": "Again"}, headers=staff.headers
    )
    assert taken.status_code == 409

    # Moving a category under its own subtree is refused; moving the subtree rewrites paths.
    cycle = await client.patch(
        f"{SHOP}/categories/{clothing['id']}",
        json={"parent_id": shirts["id"]},
        headers=staff.headers,
    )
    assert cycle.status_code == 409
    # A parent the body names that does not exist: 409 too (the category of the URL exists).
    nowhere = {"parent_id": "0190b3c6-0000-7000-8000-000000000000"}
    for method, url, body in (
        ("PATCH", f"{SHOP}/categories/{clothing['id']}", nowhere),
        ("POST", f"{SHOP}/categories", {"slug": "orphans", "name": "Orphans", **nowhere}),
    ):
        orphan = await client.request(method, url, json=body, headers=staff.headers)
        assert orphan.status_code == 409, orphan.text
        assert orphan.json()["code"] == "unknown-category"
    apparel = await make_category(client, staff, "apparel")
    moved = await client.patch(
        f"{SHOP}/categories/{clothing['id']}",
        json={"parent_id": apparel["id"]},
        headers=staff.headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["path"] == "/apparel/clothing/"
    child = await client.get(f"{SHOP}/categories/{shirts['id']}")
    assert child.json()["path"] == "/apparel/clothing/shirts/"

    in_use = await client.delete(f"{SHOP}/categories/{clothing['id']}", headers=staff.headers)
    assert in_use.status_code == 409
    listing = await client.get(f"{SHOP}/categories")
    assert [c["slug"] for c in listing.json()["items"]] == ["apparel", "clothing", "shirts", "toys"]


@pytest.mark.parametrize(
    ("attributes", "fault"),
    [
        ({"colour": "purple", "size": "M"}, "colour"),  # not an allowed value
        ({"colour": "red"}, "size"),  # required by the sub-category
        ({"size": "M", "organic": "yes"}, "organic"),  # wrong type
        ({"size": "M", "weight": 3}, "weight"),  # unknown attribute
    ],
)
async def test_attributes_follow_the_category_schema_and_its_ancestors(
    client: httpx.AsyncClient, staff: SignedInUser, attributes: dict[str, Any], fault: str
) -> None:
    _, shirts, _ = await _tree(client, staff)
    response = await client.post(
        f"{SHOP}/products",
        json={
            "slug": "bad-shirt",
            "name": "Bad shirt",
            "category_id": shirts["id"],
            "currency": "EUR",
            "attributes": attributes,
            "variants": [{"sku": "BAD-1", "price": 100}],
        },
        headers=staff.headers,
    )
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "invalid-attributes"
    assert [error["loc"][-1] for error in body["errors"]] == [fault]


async def test_products_are_created_by_staff_and_browsed_by_everyone(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    _, shirts, _ = await _tree(client, staff)
    product = await make_product(
        client,
        staff,
        shirts["id"],
        slug="oxford",
        name="Oxford shirt",
        attributes={"colour": "blue", "size": "M"},
        variants=[
            {"sku": "OX-M", "price": 4900, "stock": 3, "options": {"size": "M"}},
            {"sku": "OX-L", "price": 5200, "stock": 0, "options": {"size": "L"}},
        ],
    )
    assert product["price_from"] == 4900
    assert product["in_stock"] is True
    assert [v["sku"] for v in product["variants"]] == ["OX-M", "OX-L"]

    got = await client.get(f"{SHOP}/products/oxford")
    assert got.status_code == 200
    etag = got.headers["etag"]
    # One URL per product: read by slug or by id, written by id.
    by_id = await client.get(f"{SHOP}/products/{product['id']}")
    assert by_id.status_code == 200
    assert by_id.json() == got.json()
    allow = (await client.options(f"{SHOP}/products/oxford")).headers["allow"]
    assert sorted(allow.split(", ")) == ["DELETE", "GET", "PATCH"]
    again = await client.get(f"{SHOP}/products/oxford", headers={"If-None-Match": etag})
    assert again.status_code == 304

    # A price change is a new version; a stale If-Match is refused.
    variant_id = product["variants"][0]["id"]
    changed = await client.patch(
        f"{SHOP}/products/{product['id']}/variants/{variant_id}",
        json={"price": 3900, "stock": 0},
        headers=staff.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["price_from"] == 3900
    assert changed.json()["in_stock"] is False
    stale = await client.patch(
        f"{SHOP}/products/{product['id']}",
        json={"name": "Renamed"},
        headers=staff.with_headers(if_match=etag),
    )
    assert stale.status_code == 412

    by_customer = await client.patch(
        f"{SHOP}/products/{product['id']}", json={"name": "Mine"}, headers=customer.headers
    )
    assert by_customer.status_code == 403

    hidden = await make_product(
        client, staff, shirts["id"], attributes={"size": "S"}, published=False
    )
    assert (await client.get(f"{SHOP}/products/{hidden['slug']}")).status_code == 404
    assert (
        await client.get(f"{SHOP}/products/{hidden['slug']}", headers=customer.headers)
    ).status_code == 404
    assert (
        await client.get(f"{SHOP}/products/{hidden['slug']}", headers=staff.headers)
    ).status_code == 200


async def test_listing_filters_sorts_pages_and_counts_facets(
    client: httpx.AsyncClient, staff: SignedInUser
) -> None:
    clothing, shirts, toys = await _tree(client, staff)
    await make_product(
        client, staff, shirts["id"], name="Blue linen shirt", price=3000,
        attributes={"colour": "blue", "size": "M", "organic": True},
    )  # fmt: skip
    await make_product(
        client, staff, shirts["id"], name="Red flannel shirt", price=4500, stock=0,
        attributes={"colour": "red", "size": "L"},
    )  # fmt: skip
    await make_product(
        client, staff, clothing["id"], name="Blue scarf", price=1500, attributes={"colour": "blue"}
    )
    await make_product(client, staff, toys["id"], name="Wooden train", price=2500)
    await make_product(client, staff, toys["id"], name="Secret toy", published=False)

    everything = (await client.get(f"{SHOP}/products", params={"sort": "price"})).json()
    assert everything["total"] == 4
    assert [p["name"] for p in everything["items"]] == [
        "Blue scarf", "Wooden train", "Blue linen shirt", "Red flannel shirt",
    ]  # fmt: skip

    subtree = (await client.get(f"{SHOP}/products", params={"category": "clothing"})).json()
    assert subtree["total"] == 3
    facets = subtree["facets"]
    assert {f["slug"]: f["count"] for f in facets["categories"]} == {"shirts": 2, "clothing": 1}
    colours = {v["value"]: v["count"] for v in facets["attributes"]["colour"]}
    assert colours == {"blue": 2, "red": 1}
    assert facets["in_stock"] == 2
    assert (facets["price_min"], facets["price_max"]) == (1500, 4500)

    blue = await client.get(
        f"{SHOP}/products",
        params={"attr": ["colour:blue", "organic:true"], "category": "clothing"},
    )
    assert [p["name"] for p in blue.json()["items"]] == ["Blue linen shirt"]

    priced = await client.get(
        f"{SHOP}/products", params={"min_price": 2000, "max_price": 4000, "in_stock": "true"}
    )
    assert {p["name"] for p in priced.json()["items"]} == {"Blue linen shirt", "Wooden train"}

    found = await client.get(f"{SHOP}/products", params={"q": "shir"})
    assert {p["name"] for p in found.json()["items"]} == {"Blue linen shirt", "Red flannel shirt"}
    weird = await client.get(f"{SHOP}/products", params={"q": '"*) OR ( NEAR'})
    assert weird.status_code == 200

    paged = await client.get(f"{SHOP}/products", params={"page_size": 2, "page": 2, "sort": "name"})
    body = paged.json()
    assert (body["total"], body["page"], len(body["items"])) == (4, 2, 2)
    assert [p["name"] for p in body["items"]] == ["Red flannel shirt", "Wooden train"]
    assert 'rel="prev"' in paged.headers["link"]

    unknown = await client.get(f"{SHOP}/products", params={"category": "nope"})
    assert unknown.json()["total"] == 0
    bad = await client.get(f"{SHOP}/products", params={"attr": "colour"})
    assert bad.status_code == 422
    assert (await client.get(f"{SHOP}/products", params={"sort": "random"})).status_code == 422


async def test_the_list_costs_the_same_statements_whatever_the_page(
    client: httpx.AsyncClient, staff: SignedInUser
) -> None:
    category = await make_category(client, staff)
    await make_product(client, staff, category["id"])
    one = await client.get(f"{SHOP}/products")
    for _ in range(5):
        await make_product(client, staff, category["id"])
    many = await client.get(f"{SHOP}/products")
    assert len(many.json()["items"]) == 6
    assert one.headers["x-db-statements"] == many.headers["x-db-statements"]
