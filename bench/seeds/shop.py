"""The shop's seeds: the catalogue of ``shop-catalog``, the shoppers of ``shop-add-to-cart``
and ``shop-checkout``."""

from __future__ import annotations

import math
import uuid

from bench.seeds.accounts import sign_in_users
from bench.seeds.context import SeedContext, SeedValue

PRODUCTS_PER_SIZE_UNIT = 2
"""The catalogue scenario sees ``--size`` x 2 products: 2 000 with the default size."""
CART_WRITES_PER_SECOND_CEILING = 1500
"""Cart writes a second that one server worker is taken never to reach: the pool of shoppers
is sized for it, so that the per-user limit of cart writes (a product rule) is never met."""
CHECKOUTS_PER_SECOND_CEILING = 100
"""Checkouts a second per worker the pool of buyers is sized for: each buyer checks out once
(a checkout empties the cart), so the pool holds one buyer per checkout of the run."""


async def _catalogue(ctx: SeedContext) -> list[uuid.UUID]:
    """The demo catalogue (once per database): ids of variants with stock."""
    import random

    from sqlalchemy import select

    from mainspring.shop.models import Category, Product, Variant
    from mainspring.shop.seed import seed_demo

    async with ctx.session() as session:
        if await session.scalar(select(Category.id).where(Category.slug == "clothing")) is None:
            await seed_demo(session, [], random.Random(2026), ctx.size * PRODUCTS_PER_SIZE_UNIT)
        rows = await session.scalars(
            select(Variant.id)
            .join(Product, Product.id == Variant.product_id)
            .where(Product.published.is_(True), Variant.stock >= 5)
            .order_by(Variant.sku)
            .limit(100)
        )
        return list(rows)


async def seed_catalogue(ctx: SeedContext) -> dict[str, str]:
    await _catalogue(ctx)
    return {}


async def seed_shoppers(ctx: SeedContext) -> dict[str, SeedValue]:
    """A pool of signed-in shoppers and a variant to put in their carts."""
    from mainspring.core.ratelimit import parse_limit
    from mainspring.shop.deps import CART_WRITES_PER_MINUTE

    variants = await _catalogue(ctx)
    limit = parse_limit(CART_WRITES_PER_MINUTE)
    usable = limit.amount - 4
    window = min(ctx.seconds, limit.get_expiry())
    count = max(1, math.ceil(CART_WRITES_PER_SECOND_CEILING * ctx.workers * window / usable))
    tokens = await sign_in_users(ctx, "bench_shopper", count, "shop-add-to-cart")
    return {"token": tokens, "variant": str(variants[0])}


async def seed_buyers(ctx: SeedContext) -> dict[str, SeedValue]:
    """One signed-in buyer per checkout of the run, each with a cart of two lines, on variants
    with stock enough for the whole run."""
    from sqlalchemy import select, update

    from mainspring.accounts.models import User
    from mainspring.core.db import utcnow
    from mainspring.shop.models import Cart, CartLine, Variant

    variants = await _catalogue(ctx)
    count = max(2, CHECKOUTS_PER_SECOND_CEILING * ctx.workers * ctx.seconds)
    tokens = await sign_in_users(ctx, "bench_buyer", count, "shop-checkout")
    async with ctx.session() as session:
        await session.execute(
            update(Variant).where(Variant.id.in_(variants[:2])).values(stock=10_000_000)
        )
        users = await session.scalars(select(User.id).where(User.username.like("bench_buyer_%")))
        expires = utcnow().replace(year=utcnow().year + 1)
        for user_id in users:
            cart = Cart(user_id=user_id, expires_at=expires)
            session.add(cart)
            await session.flush()
            session.add_all(
                CartLine(cart_id=cart.id, variant_id=variant_id, quantity=1)
                for variant_id in variants[:2]
            )
    return {"token": tokens}
