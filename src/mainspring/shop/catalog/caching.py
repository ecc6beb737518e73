"""What the catalogue caches, under which tags, and every write that makes an entry stale.

Everybody browsing anonymously sees the same catalogue, so those answers are kept whole, as the
JSON bytes they are sent as (``core/cached_answers.py``), in the kernel cache: in-process by
default, in Redis (shared by every replica) at scale. A hit costs no SQL and no serialisation.
Signed-in readers are never served from these entries (staff see unpublished products) and
their answers say ``Cache-Control: private, no-cache``.

Entries (key: what it holds; its tags), each ``TTL_SECONDS`` at most:

- ``shop-products:<digest of the filters, page and page size>``: a page of
  ``GET /shop/products``, with its total and facets; ``shop:products``, ``shop:catalog``, and
  ``shop:sales`` when it is sorted ``best_selling``;
- ``shop-product:<slug or id>``: ``GET /shop/products/{product}`` (or that no published
  product answers to that key: the 404 is cached too); ``shop:product:<slug or id>``,
  ``shop:catalog``;
- ``shop-categories:<digest of the page and page size>`` and ``shop-category:<id>`` (a 404
  too): ``GET /shop/categories`` and ``GET /shop/categories/{id}``; ``shop:catalog``.

Invalidation, always after the commit (``invalidate_after_commit``), so that no reader can cache
the old state again in between, and before the response of the write goes out. A product is
invalidated under both its keys (``shop:product:<id>`` and ``shop:product:<slug>``); the lists
(``shop:products``) whenever what they show, filter or sort on may have changed:

- a category created, changed (renamed, moved, its attribute schema) or deleted
  (``CategoryService``): ``shop:catalog``, every entry (products show their category's name,
  the ``category`` filter its subtree);
- a product created, changed (published or not, name, description, category, attributes) or
  deleted, an image added or removed (``ProductService``): the product and the lists;
- a variant added, changed (price, stock, name, options) or deleted (``ProductService``): the
  product, and the lists if its ``price_from`` or ``in_stock`` moved (``repository.
  refresh_products`` compares them under a row lock: a price or a stock count alone is shown
  only by the product);
- every stock movement, through ``ProductService.refresh``, the same way: a checkout
  (``OrderService.checkout`` reserves units), a cancellation by the customer or staff
  (``OrderService.cancel`` gives them back), and the background schedule that cancels unpaid
  orders whose reservation passed (``shop.release_expired_reservations`` ->
  ``OrderService.release_expired``);
- a payment that makes an order ``paid`` (``OrderService.mark_paid``: staff confirming a manual
  payment, a Stripe webhook) adds to the products' ``sold_count``: the products, and the lists
  sorted ``best_selling`` (``shop:sales``).

Writes that change nothing shown here: carts (a cart reserves nothing; stock is taken at
checkout), coupons, an order's later states, refunds (a refunded order does not restock: the
goods come back, if ever, by a staff stock edit, which is a variant change above), the cart
purge. What a write made outside the services (SQL by hand, a seed script of another process, a
worker process on the in-process cache, which the web process does not share) is seen after
the TTL. Clients and proxies may keep an anonymous answer ``cached_answers.MAX_AGE_SECONDS``
and then revalidate it with its ``ETag`` (304).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core import cached_answers
from mainspring.core.cache import CachedBytes
from mainspring.core.cache_commit import invalidate_after_commit
from mainspring.core.pagination import PageSlice
from mainspring.shop.catalog.filters import ProductFilters
from mainspring.shop.errors import CategoryNotFound, ProductNotFound

CATALOG_TAG = "shop:catalog"
"""Every entry: a category change may show in any of them."""
PRODUCTS_TAG = "shop:products"
"""Every page of the product list."""
SALES_TAG = "shop:sales"
"""The pages sorted ``best_selling``: their order moves with every sale."""
TTL_SECONDS = 60
"""How long an entry lives at most: the bound for a write made outside the services."""

Product = tuple[uuid.UUID, str]
"""A product as the invalidations name it: its id and its slug."""


def product_tag(key: str) -> str:
    """The tag of the product entry at ``key`` (its slug, or its id as text)."""
    return f"shop:product:{key}"


# --- reads --------------------------------------------------------------------------------------


async def lookup_products(
    request: Request, filters: ProductFilters, listing: PageSlice, load: cached_answers.Load
) -> CachedBytes:
    """A page of the anonymous product list: one entry per combination of every parameter."""
    key = cached_answers.digest_key("shop-products", filters, listing.page, listing.page_size)
    tags = [PRODUCTS_TAG, CATALOG_TAG]
    if filters.sort == "best_selling":
        tags.append(SALES_TAG)
    return await cached_answers.lookup(request, key, tags, load, ttl=TTL_SECONDS)


async def lookup_product(request: Request, key: str, load: cached_answers.Load) -> CachedBytes:
    """The published product at ``key`` (slug or id), or its cached absence: 404 from the cache
    until a write names a product there (creating or publishing it)."""
    tags = [product_tag(key), CATALOG_TAG]
    return await cached_answers.lookup(
        request, f"shop-product:{key}", tags, load, ttl=TTL_SECONDS, missing=ProductNotFound
    )


async def lookup_categories(
    request: Request, listing: PageSlice, load: cached_answers.Load
) -> CachedBytes:
    key = cached_answers.digest_key("shop-categories", listing.page, listing.page_size)
    return await cached_answers.lookup(request, key, [CATALOG_TAG], load, ttl=TTL_SECONDS)


async def lookup_category(
    request: Request, category_id: uuid.UUID, load: cached_answers.Load
) -> CachedBytes:
    return await cached_answers.lookup(
        request,
        f"shop-category:{category_id}",
        [CATALOG_TAG],
        load,
        ttl=TTL_SECONDS,
        missing=CategoryNotFound,
    )


# --- writes -------------------------------------------------------------------------------------


def categories_changed(session: AsyncSession) -> None:
    """After ``session`` commits: every entry is stale."""
    invalidate_after_commit(session, CATALOG_TAG)


def products_changed(session: AsyncSession, products: Iterable[Product], *, lists: bool) -> None:
    """After ``session`` commits: ``products`` are stale, and every list page if ``lists``."""
    tags = [PRODUCTS_TAG] if lists else []
    invalidate_after_commit(session, *tags, *_product_tags(products))


def products_sold(session: AsyncSession, products: Iterable[Product]) -> None:
    """After ``session`` commits: ``products`` (their ``sold_count``) and the pages sorted by
    sales are stale."""
    invalidate_after_commit(session, SALES_TAG, *_product_tags(products))


def _product_tags(products: Iterable[Product]) -> list[str]:
    return [product_tag(key) for product_id, slug in products for key in (str(product_id), slug)]
