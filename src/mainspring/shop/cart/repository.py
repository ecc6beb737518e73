"""Every query about carts: finding one by owner, its lines with today's prices (one
statement), adding, changing and merging lines."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.db import dialect_of
from mainspring.shop.cart import schemas
from mainspring.shop.dialects import upsert
from mainspring.shop.models import Cart, CartLine, Product, Variant


async def by_user(session: AsyncSession, user_id: uuid.UUID) -> Cart | None:
    return await session.scalar(select(Cart).where(Cart.user_id == user_id))


async def by_token_hash(session: AsyncSession, token_hash: str) -> Cart | None:
    return await session.scalar(select(Cart).where(Cart.token_hash == token_hash))


async def ensure_user_cart(session: AsyncSession, user_id: uuid.UUID, expires_at: datetime) -> Cart:
    """The user's cart, created if missing (``ON CONFLICT DO NOTHING``: two first writes at
    once make one cart)."""
    await session.execute(
        upsert(session, Cart)
        .values(id=uuid.uuid4(), user_id=user_id, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    cart = await by_user(session, user_id)
    assert cart is not None
    return cart


async def lines(session: AsyncSession, cart_id: uuid.UUID) -> list[schemas.CartLine]:
    rows = await session.execute(
        select(
            CartLine.id,
            CartLine.variant_id,
            CartLine.quantity,
            Variant.sku,
            Variant.name.label("variant_name"),
            Variant.price,
            Variant.stock,
            Product.slug,
            Product.name.label("product_name"),
            Product.published,
            Product.currency,
        )
        .join(Variant, Variant.id == CartLine.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .where(CartLine.cart_id == cart_id)
        .order_by(CartLine.created_at, CartLine.id)
    )
    return [
        schemas.CartLine.model_construct(
            id=row.id,
            variant_id=row.variant_id,
            sku=row.sku,
            product_slug=row.slug,
            product_name=row.product_name,
            variant_name=row.variant_name,
            unit_price=row.price,
            quantity=row.quantity,
            line_total=row.price * row.quantity,
            available=row.published and row.stock >= row.quantity,
            currency=row.currency,
        )
        for row in rows
    ]


async def line_currencies(session: AsyncSession, cart_id: uuid.UUID) -> set[str]:
    rows = await session.scalars(
        select(Product.currency)
        .join(Variant, Variant.product_id == Product.id)
        .join(CartLine, CartLine.variant_id == Variant.id)
        .where(CartLine.cart_id == cart_id)
        .distinct()
    )
    return set(rows)


async def line_count(session: AsyncSession, cart_id: uuid.UUID) -> int:
    return int(await session.scalar(select(func.count()).where(CartLine.cart_id == cart_id)) or 0)


async def sellable_variant(
    session: AsyncSession, variant_id: uuid.UUID
) -> tuple[Variant, str] | None:
    """A variant of a published product, with the product's currency."""
    row = (
        await session.execute(
            select(Variant, Product.currency)
            .join(Product, Product.id == Variant.product_id)
            .where(Variant.id == variant_id, Product.published.is_(True))
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def add_quantity(
    session: AsyncSession, cart_id: uuid.UUID, variant_id: uuid.UUID, quantity: int, cap: int
) -> None:
    """Add ``quantity`` to the cart's line of ``variant_id`` (created if missing), capped."""
    stmt = upsert(session, CartLine).values(
        id=uuid.uuid4(), cart_id=cart_id, variant_id=variant_id, quantity=quantity
    )
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["cart_id", "variant_id"],
            set_={"quantity": func.min(CartLine.quantity + stmt.excluded.quantity, cap)}
            if dialect_of(session) == "sqlite"
            else {"quantity": func.least(CartLine.quantity + stmt.excluded.quantity, cap)},
        )
    )


async def line(session: AsyncSession, cart_id: uuid.UUID, line_id: uuid.UUID) -> CartLine | None:
    return await session.scalar(
        select(CartLine).where(CartLine.id == line_id, CartLine.cart_id == cart_id)
    )


async def merge(
    session: AsyncSession, source_id: uuid.UUID, target_id: uuid.UUID, cap: int
) -> None:
    """Move the lines of cart ``source_id`` into ``target_id`` (quantities add up, capped),
    then delete the source cart."""
    source_lines = (
        await session.execute(
            select(CartLine.variant_id, CartLine.quantity).where(CartLine.cart_id == source_id)
        )
    ).all()
    for variant_id, quantity in source_lines:
        await add_quantity(session, target_id, variant_id, quantity, cap)
    await session.execute(delete(Cart).where(Cart.id == source_id))


async def clear(session: AsyncSession, cart_id: uuid.UUID) -> None:
    await session.execute(delete(CartLine).where(CartLine.cart_id == cart_id))


async def touch(session: AsyncSession, cart_id: uuid.UUID, expires_at: datetime) -> None:
    await session.execute(
        update(Cart)
        .where(Cart.id == cart_id)
        .values(expires_at=expires_at)
        .execution_options(synchronize_session=False)
    )


async def delete_expired(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(delete(Cart).where(Cart.expires_at < now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
