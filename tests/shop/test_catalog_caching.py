"""The cached anonymous catalogue: a hit runs no SQL, every write that changes what a reader
sees (catalogue edits, categories, and every stock movement: checkout, cancellation, released
reservations, sales) is seen by the next anonymous read, and signed-in readers are never
served from the anonymous entries (nor is a staff view ever shown to anyone else).

Each write test first makes the anonymous answers cached (``_cached``: a second read ran no
SQL), then writes, then reads anonymously again and compares with what the database says now
(the staff view of the product, or the same list read by a signed-in customer, which is never
cached)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from mainspring.core.background import enqueue
from mainspring.core.cached_answers import MAX_AGE_SECONDS
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.shop.models import Order
from tests.fixtures.jobs import DrainJobs
from tests.fixtures.mail import SMTPServer
from tests.fixtures.users import SignedInUser
from tests.shop.catalog import SHOP, add_to_cart, checkout, make_category, make_product

PUBLIC = f"public, max-age={MAX_AGE_SECONDS}"
PRIVATE = "private, no-cache"
PRODUCTS = f"{SHOP}/products"


@pytest.fixture
def settings(settings: Settings, smtp_server: SMTPServer) -> Settings:
    return smtp_server.configure(settings)  # the released-reservation test drains mails


async def _anonymous(
    client: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None
) -> httpx.Response:
    response = await client.get(path, params=params)
    assert response.status_code in (200, 404), response.text
    if response.status_code == 200:
        assert response.headers["cache-control"] == PUBLIC
        assert "Authorization" in response.headers["vary"]
    return response


async def _cached(
    client: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None
) -> httpx.Response:
    """The anonymous answer at ``path``, read twice: the second time from the cache."""
    first = await _anonymous(client, path, params)
    again = await _anonymous(client, path, params)
    assert again.headers["x-db-statements"] == "0", path  # the cache answered
    assert again.status_code == first.status_code
    if again.status_code == 200:
        assert again.content == first.content
    else:  # a problem names its own request
        assert again.json()["detail"] == first.json()["detail"]
    return again


async def _product(client: httpx.AsyncClient, staff: SignedInUser, product: dict[str, Any]) -> Any:
    """The anonymous product, by slug and by id, checked against the staff view (the database)."""
    by_slug = await _anonymous(client, f"{PRODUCTS}/{product['slug']}")
    by_id = await _anonymous(client, f"{PRODUCTS}/{product['id']}")
    assert by_slug.status_code == by_id.status_code == 200, by_slug.text
    truth = await client.get(f"{SHOP}/staff/products/{product['id']}", headers=staff.headers)
    assert by_slug.json() == by_id.json() == truth.json()
    return by_slug.json()


async def _listing(
    client: httpx.AsyncClient, customer: SignedInUser, params: dict[str, Any]
) -> Any:
    """The anonymous list page, checked against the same page read by a signed-in customer."""
    anonymous = await _anonymous(client, PRODUCTS, params)
    truth = await client.get(PRODUCTS, params=params, headers=customer.headers)
    assert truth.headers["cache-control"] == PRIVATE
    assert anonymous.json() == truth.json()
    return anonymous.json()


def _slugs(page: Any) -> list[str]:
    return [item["slug"] for item in page["items"]]


async def _shelf(
    client: httpx.AsyncClient, staff: SignedInUser, stock: int = 3, price: int = 1000
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A category of its own with one published product: (category, product, list params)."""
    category = await make_category(client, staff)
    product = await make_product(client, staff, category["id"], stock=stock, price=price)
    return category, product, {"category": category["slug"]}


async def test_an_anonymous_hit_runs_no_sql_and_answers_304_to_its_etag(
    client: httpx.AsyncClient, staff: SignedInUser
) -> None:
    category, product, params = await _shelf(client, staff)
    await make_product(client, staff, category["id"])
    paths: list[tuple[str, dict[str, Any] | None]] = [
        (PRODUCTS, {**params, "page_size": 1, "sort": "price", "in_stock": "true"}),
        (f"{PRODUCTS}/{product['slug']}", None),
        (f"{PRODUCTS}/{product['id']}", None),
        (f"{SHOP}/categories", None),
        (f"{SHOP}/categories/{category['id']}", None),
    ]
    for path, query in paths:
        hit = await _cached(client, path, query)
        etag = hit.headers["etag"]
        assert etag.startswith('W/"')
        revalidated = await client.get(path, params=query, headers={"If-None-Match": etag})
        assert revalidated.status_code == 304
        assert revalidated.headers["etag"] == etag
        assert revalidated.headers["cache-control"] == PUBLIC
        assert revalidated.content == b""
    # The list's Link header is the request's own, from the cached total.
    page = await _cached(client, PRODUCTS, {**params, "page_size": 1})
    assert page.json()["total"] == 2
    assert 'rel="next"' in page.headers["link"]
    assert "page=2" in page.headers["link"]

    # What does not exist is cached too: a flood of 404s costs no SQL.
    for path in (f"{PRODUCTS}/no-such-product", f"{SHOP}/categories/{uuid.uuid4()}"):
        missing = await _cached(client, path)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"


async def test_signed_in_readers_are_never_served_the_anonymous_answers(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    category, product, params = await _shelf(client, staff)
    hidden = await make_product(client, staff, category["id"], published=False)
    path = f"{PRODUCTS}/{hidden['slug']}"

    seen = await client.get(path, headers=staff.headers)  # staff see unpublished products
    assert seen.status_code == 200
    assert seen.headers["cache-control"] == PRIVATE
    assert (await _cached(client, path)).status_code == 404  # ...nobody else does
    assert (await client.get(path, headers=customer.headers)).status_code == 404
    again = await client.get(path, headers=staff.headers)  # nor is staff's view the cached 404
    assert again.status_code == 200
    assert again.headers["x-db-statements"] != "0"
    assert _slugs(await _listing(client, customer, params)) == [product["slug"]]

    for reader in (staff, customer):
        for url, query in ((PRODUCTS, params), (f"{PRODUCTS}/{product['slug']}", None)):
            await _cached(client, url, query)
            answer = await client.get(url, params=query, headers=reader.headers)
            assert answer.status_code == 200
            assert answer.headers["cache-control"] == PRIVATE
            assert answer.headers["x-db-statements"] != "0"  # read for this reader
    bad_token = await client.get(PRODUCTS, headers={"Authorization": "Bearer nonsense"})
    assert bad_token.status_code == 401  # a sent token must be valid, cached or not


async def test_product_writes_are_seen_by_the_next_anonymous_read(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    category, first, params = await _shelf(client, staff)
    slug = f"p-{uuid.uuid4().hex[:10]}"
    assert (await _cached(client, f"{PRODUCTS}/{slug}")).status_code == 404
    await _cached(client, PRODUCTS, params)

    created = await make_product(client, staff, category["id"], slug=slug, price=500)
    assert (await _product(client, staff, created))["name"] == "Plain shirt"
    assert _slugs(await _listing(client, customer, {**params, "sort": "price"})) == [
        slug,
        first["slug"],
    ]

    await _cached(client, f"{PRODUCTS}/{slug}")
    await _cached(client, PRODUCTS, params)
    renamed = await client.patch(
        f"{PRODUCTS}/{created['id']}", json={"name": "Linen shirt"}, headers=staff.headers
    )
    assert renamed.status_code == 200, renamed.text
    assert (await _product(client, staff, created))["name"] == "Linen shirt"
    listed = await _listing(client, customer, params)
    assert {item["name"] for item in listed["items"]} == {"Linen shirt", "Plain shirt"}

    unpublished = await client.patch(
        f"{PRODUCTS}/{created['id']}", json={"published": False}, headers=staff.headers
    )
    assert unpublished.status_code == 200
    assert (await _anonymous(client, f"{PRODUCTS}/{slug}")).status_code == 404
    assert (await _anonymous(client, f"{PRODUCTS}/{created['id']}")).status_code == 404
    assert _slugs(await _listing(client, customer, params)) == [first["slug"]]
    await client.patch(
        f"{PRODUCTS}/{created['id']}", json={"published": True}, headers=staff.headers
    )
    await _product(client, staff, created)

    await _cached(client, f"{PRODUCTS}/{slug}")
    await _cached(client, PRODUCTS, {**params, "sort": "price"})
    image = await client.post(
        f"{PRODUCTS}/{created['id']}/images",
        json={"url": "https://img.example.com/linen.jpg", "alt": "Front"},
        headers=staff.headers,
    )
    assert image.status_code == 201, image.text
    assert [i["alt"] for i in (await _product(client, staff, created))["images"]] == ["Front"]
    listed = await _listing(client, customer, {**params, "sort": "price"})
    assert listed["items"][0]["image_url"] == "https://img.example.com/linen.jpg"
    image_id = image.json()["images"][0]["id"]
    removed = await client.delete(
        f"{PRODUCTS}/{created['id']}/images/{image_id}", headers=staff.headers
    )
    assert removed.status_code == 204
    assert (await _product(client, staff, created))["images"] == []
    assert (await _listing(client, customer, {**params, "sort": "price"}))["items"][0][
        "image_url"
    ] is None

    await _cached(client, f"{PRODUCTS}/{slug}")
    await _cached(client, PRODUCTS, params)
    deleted = await client.delete(f"{PRODUCTS}/{created['id']}", headers=staff.headers)
    assert deleted.status_code == 204
    assert (await _anonymous(client, f"{PRODUCTS}/{slug}")).status_code == 404
    assert _slugs(await _listing(client, customer, params)) == [first["slug"]]


async def test_variant_changes_are_seen_by_the_next_anonymous_read(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    _, product, params = await _shelf(client, staff, stock=5, price=2000)
    detail, in_stock = f"{PRODUCTS}/{product['slug']}", {**params, "in_stock": "true"}
    variants = f"{PRODUCTS}/{product['id']}/variants"

    await _cached(client, detail)
    await _cached(client, PRODUCTS, params)
    added = await client.post(
        variants,
        json={"sku": f"SKU-{uuid.uuid4().hex[:8]}", "price": 1500, "stock": 1},
        headers=staff.headers,
    )
    assert added.status_code == 201, added.text
    cheap = next(v for v in added.json()["variants"] if v["price"] == 1500)
    assert len((await _product(client, staff, product))["variants"]) == 2
    assert (await _listing(client, customer, params))["items"][0]["price_from"] == 1500

    await _cached(client, detail)
    await _cached(client, PRODUCTS, params)
    repriced = await client.patch(
        f"{variants}/{cheap['id']}", json={"price": 1200}, headers=staff.headers
    )
    assert repriced.status_code == 200
    assert (await _product(client, staff, product))["price_from"] == 1200
    assert (await _listing(client, customer, params))["items"][0]["price_from"] == 1200

    # A stock count alone is shown by the product only: the list stays cached.
    await _cached(client, detail)
    await _cached(client, PRODUCTS, params)
    restocked = await client.patch(
        f"{variants}/{cheap['id']}", json={"stock": 7, "name": "Seconds"}, headers=staff.headers
    )
    assert restocked.status_code == 200
    shown = {v["id"]: v for v in (await _product(client, staff, product))["variants"]}
    assert (shown[cheap["id"]]["stock"], shown[cheap["id"]]["name"]) == (7, "Seconds")
    assert (await _anonymous(client, PRODUCTS, params)).headers["x-db-statements"] == "0"
    await _listing(client, customer, params)

    # Out of stock everywhere: the list's flag, filter and facet move with it.
    await _cached(client, PRODUCTS, in_stock)
    for variant in (await _product(client, staff, product))["variants"]:
        emptied = await client.patch(
            f"{variants}/{variant['id']}", json={"stock": 0}, headers=staff.headers
        )
        assert emptied.status_code == 200
    assert (await _product(client, staff, product))["in_stock"] is False
    assert (await _listing(client, customer, in_stock))["items"] == []
    page = await _listing(client, customer, params)
    assert (page["items"][0]["in_stock"], page["facets"]["in_stock"]) == (False, 0)

    await _cached(client, detail)
    await _cached(client, PRODUCTS, params)
    dropped = await client.delete(f"{variants}/{cheap['id']}", headers=staff.headers)
    assert dropped.status_code == 204
    assert len((await _product(client, staff, product))["variants"]) == 1
    assert (await _listing(client, customer, params))["items"][0]["price_from"] == 2000


async def test_category_changes_are_seen_by_the_next_anonymous_read(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    category, product, params = await _shelf(client, staff)
    parent = await make_category(client, staff)
    categories, one = f"{SHOP}/categories", f"{SHOP}/categories/{category['id']}"
    for path in (categories, one, f"{PRODUCTS}/{product['slug']}"):
        await _cached(client, path)
    await _cached(client, PRODUCTS, params)
    await _cached(client, PRODUCTS, {"category": parent["slug"]})

    moved = await client.patch(
        one, json={"name": "Shirts", "parent_id": parent["id"]}, headers=staff.headers
    )
    assert moved.status_code == 200, moved.text
    assert (await _anonymous(client, one)).json()[
        "path"
    ] == f"/{parent['slug']}/{category['slug']}/"
    names = {c["id"]: c["name"] for c in (await _anonymous(client, categories)).json()["items"]}
    assert names[category["id"]] == "Shirts"
    assert (await _product(client, staff, product))["category"]["name"] == "Shirts"
    page = await _listing(client, customer, params)
    assert page["items"][0]["category"]["name"] == "Shirts"
    assert page["facets"]["categories"][0]["name"] == "Shirts"
    under_parent = await _listing(client, customer, {"category": parent["slug"]})
    assert _slugs(under_parent) == [product["slug"]]  # the subtree moved

    await _cached(client, categories)
    created = await make_category(client, staff)
    listed = {c["id"] for c in (await _anonymous(client, categories)).json()["items"]}
    assert created["id"] in listed

    gone = f"{SHOP}/categories/{created['id']}"
    await _cached(client, gone)
    assert (await client.delete(gone, headers=staff.headers)).status_code == 204
    assert (await _anonymous(client, gone)).status_code == 404
    listed = {c["id"] for c in (await _anonymous(client, categories)).json()["items"]}
    assert created["id"] not in listed


async def test_purchases_cancellations_and_sales_are_seen_by_the_next_anonymous_read(
    client: httpx.AsyncClient, staff: SignedInUser, customer: SignedInUser
) -> None:
    category, one, params = await _shelf(client, staff, stock=3)
    best_selling, in_stock = {**params, "sort": "best_selling"}, {**params, "in_stock": "true"}
    two = await make_product(client, staff, category["id"], stock=3)
    # Nothing sold yet: the product listed last by sales is the one this test sells.
    order = _slugs(await _listing(client, customer, best_selling))
    other, product = sorted((one, two), key=lambda p: order.index(p["slug"]))
    variant_id, detail = product["variants"][0]["id"], f"{PRODUCTS}/{product['slug']}"

    # A purchase: the product shows its new stock at once; the lists, whose in-stock flag did
    # not move, stay cached.
    await _cached(client, detail)
    await _cached(client, PRODUCTS, params)
    await add_to_cart(client, customer, variant_id, 1)
    first = await checkout(client, customer)
    assert first.status_code == 201, first.text
    assert (await _product(client, staff, product))["variants"][0]["stock"] == 2
    assert (await _anonymous(client, PRODUCTS, params)).headers["x-db-statements"] == "0"
    await _listing(client, customer, params)

    # The last units: out of stock in the lists too.
    await _cached(client, detail)
    await _cached(client, PRODUCTS, in_stock)
    await add_to_cart(client, customer, variant_id, 2)
    second = await checkout(client, customer)
    assert second.status_code == 201, second.text
    shown = await _product(client, staff, product)
    assert (shown["variants"][0]["stock"], shown["in_stock"]) == (0, False)
    assert _slugs(await _listing(client, customer, in_stock)) == [other["slug"]]

    # The customer cancels: the units come back, in the product and in the lists.
    await _cached(client, detail)
    await _cached(client, PRODUCTS, in_stock)
    cancelled = await client.post(
        f"{SHOP}/orders/{second.json()['id']}/transitions",
        json={"to": "cancelled"},
        headers=customer.headers,
    )
    assert cancelled.status_code == 200, cancelled.text
    shown = await _product(client, staff, product)
    assert (shown["variants"][0]["stock"], shown["in_stock"]) == (2, True)
    assert set(_slugs(await _listing(client, customer, in_stock))) == {
        product["slug"],
        other["slug"],
    }

    # A payment: the product's sales count, and the order of the best-selling pages.
    await _cached(client, detail)
    await _cached(client, PRODUCTS, best_selling)
    payment = await client.post(
        f"{SHOP}/orders/{first.json()['id']}/payments",
        json={"provider": "manual"},
        headers=customer.with_headers(idempotency_key=str(uuid.uuid4())),
    )
    assert payment.status_code == 201, payment.text
    confirmed = await client.post(
        f"{SHOP}/payments/{payment.json()['id']}/confirm", headers=staff.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    assert (await _product(client, staff, product))["sold_count"] == 1
    assert _slugs(await _listing(client, customer, best_selling))[0] == product["slug"]

    # A refund restocks nothing and changes nothing the catalogue shows.
    await _cached(client, detail)
    refund = await client.post(
        f"{SHOP}/orders/{first.json()['id']}/refunds",
        json={"reason": "changed their mind"},
        headers=staff.with_headers(idempotency_key=str(uuid.uuid4())),
    )
    assert refund.status_code == 201, refund.text
    shown = await _product(client, staff, product)
    assert (shown["variants"][0]["stock"], shown["sold_count"]) == (2, 1)


async def test_released_reservations_are_seen_by_the_next_anonymous_read(
    app: FastAPI,
    client: httpx.AsyncClient,
    staff: SignedInUser,
    customer: SignedInUser,
    drain_jobs: DrainJobs,
) -> None:
    _, product, params = await _shelf(client, staff, stock=2)
    in_stock = {**params, "in_stock": "true"}
    await add_to_cart(client, customer, product["variants"][0]["id"], 2)
    order = await checkout(client, customer)
    assert order.status_code == 201, order.text
    await drain_jobs()  # the confirmation mail
    await _cached(client, f"{PRODUCTS}/{product['slug']}")
    assert (await _cached(client, PRODUCTS, in_stock)).json()["items"] == []

    async with app.state.db.session() as session:  # the reservation runs out
        await session.execute(
            update(Order)
            .where(Order.id == uuid.UUID(order.json()["id"]))
            .values(reserved_until=utcnow() - timedelta(minutes=1))
        )
        await enqueue(session, "shop.release_expired_reservations", {})
    assert {run.status for run in await drain_jobs()} == {"done"}  # the background job

    shown = await _product(client, staff, product)
    assert (shown["variants"][0]["stock"], shown["in_stock"]) == (2, True)
    assert _slugs(await _listing(client, customer, in_stock)) == [product["slug"]]
