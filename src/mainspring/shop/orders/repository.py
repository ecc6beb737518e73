"""Every query about orders: the checkout's reads and its stock reservation, order reads,
state changes by conditional ``UPDATE``, and the releases of stock.

The reservation is the heart of "no overselling": for each line, in variant-id order (so that
two checkouts on PostgreSQL lock rows in the same order and cannot deadlock),
``UPDATE shop_variants SET stock = stock - :n WHERE id = :id AND stock >= :n``. The database
evaluates the condition on the row it locks, so among concurrent checkouts only as many succeed
as there are units; a row count of 0 means not enough stock, and the checkout rolls back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.pagination import PageSlice, offset_page
from mainspring.shop.models import CartLine, Coupon, Order, OrderLine, Product, Variant
from mainspring.shop.orders import schemas


@dataclass(frozen=True)
class CheckoutLine:
    variant_id: uuid.UUID
    product_id: uuid.UUID
    sku: str
    name: str
    price: int
    currency: str
    published: bool
    quantity: int


async def checkout_lines(session: AsyncSession, cart_id: uuid.UUID) -> list[CheckoutLine]:
    """The cart's lines with the catalogue's prices now, in variant-id order."""
    rows = await session.execute(
        select(
            CartLine.variant_id,
            Variant.product_id,
            Variant.sku,
            Product.name,
            Variant.name.label("variant_name"),
            Variant.price,
            Product.currency,
            Product.published,
            CartLine.quantity,
        )
        .join(Variant, Variant.id == CartLine.variant_id)
        .join(Product, Product.id == Variant.product_id)
        .where(CartLine.cart_id == cart_id)
        .order_by(CartLine.variant_id)
    )
    return [
        CheckoutLine(
            variant_id=row.variant_id,
            product_id=row.product_id,
            sku=row.sku,
            name=f"{row.name} ({row.variant_name})" if row.variant_name else row.name,
            price=row.price,
            currency=row.currency,
            published=row.published,
            quantity=row.quantity,
        )
        for row in rows
    ]


async def reserve(session: AsyncSession, variant_id: uuid.UUID, quantity: int) -> bool:
    """Take ``quantity`` units of a variant if that many are left (one conditional UPDATE)."""
    result = await session.execute(
        update(Variant)
        .where(Variant.id == variant_id, Variant.stock >= quantity)
        .values(stock=Variant.stock - quantity)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def release(session: AsyncSession, order_id: uuid.UUID) -> list[uuid.UUID]:
    """Give an order's units back to stock; the ids of the products concerned."""
    lines = (
        await session.execute(
            select(OrderLine.variant_id, OrderLine.product_id, OrderLine.quantity)
            .where(OrderLine.order_id == order_id, OrderLine.variant_id.is_not(None))
            .order_by(OrderLine.variant_id)
        )
    ).all()
    for variant_id, _, quantity in lines:
        await session.execute(
            update(Variant)
            .where(Variant.id == variant_id)
            .values(stock=Variant.stock + quantity)
            .execution_options(synchronize_session=False)
        )
    return [product_id for _, product_id, _ in lines if product_id is not None]


async def add_order(session: AsyncSession, order: Order, lines: Sequence[CheckoutLine]) -> None:
    session.add(order)
    await session.flush()
    session.add_all(
        OrderLine(
            order_id=order.id,
            variant_id=line.variant_id,
            product_id=line.product_id,
            sku=line.sku,
            name=line.name,
            unit_price=line.price,
            quantity=line.quantity,
            line_total=line.price * line.quantity,
        )
        for line in lines
    )
    await session.flush()


async def move(
    session: AsyncSession,
    order_id: uuid.UUID,
    current: str,
    target: str,
    **values: Any,
) -> bool:
    """``status: current -> target`` if the order is still ``current`` (one UPDATE)."""
    result = await session.execute(
        update(Order)
        .where(Order.id == order_id, Order.status == current)
        .values(status=target, version=Order.version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


async def count_sales(session: AsyncSession, order_id: uuid.UUID) -> list[tuple[uuid.UUID, str]]:
    """Add a paid order's quantities to its products' ``sold_count`` (one UPDATE); the ids
    and slugs of those products."""
    sold = (
        select(func.coalesce(func.sum(OrderLine.quantity), 0))
        .where(OrderLine.order_id == order_id, OrderLine.product_id == Product.id)
        .correlate(Product)
        .scalar_subquery()
    )
    rows = await session.execute(
        update(Product)
        .where(Product.id.in_(select(OrderLine.product_id).where(OrderLine.order_id == order_id)))
        .values(sold_count=Product.sold_count + sold)
        .returning(Product.id, Product.slug)
        .execution_options(synchronize_session=False)
    )
    return [(product_id, slug) for product_id, slug in rows]


async def entity(session: AsyncSession, order_id: uuid.UUID) -> Order | None:
    return await session.scalar(
        select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    )


async def detail(session: AsyncSession, order_id: uuid.UUID) -> schemas.Order | None:
    row = (
        await session.execute(
            select(Order, Coupon.code)
            .outerjoin(Coupon, Coupon.id == Order.coupon_id)
            .where(Order.id == order_id)
            .execution_options(populate_existing=True)
        )
    ).first()
    if row is None:
        return None
    order, coupon_code = row
    lines = await session.scalars(
        select(OrderLine).where(OrderLine.order_id == order_id).order_by(OrderLine.sku)
    )
    return schemas.Order.model_construct(
        id=order.id,
        user_id=order.user_id,
        email=order.email,
        status=order.status,
        currency=order.currency,
        subtotal=order.subtotal,
        discount=order.discount,
        total=order.total,
        refunded_amount=order.refunded_amount,
        coupon_code=coupon_code,
        reserved_until=order.reserved_until if order.status == "pending_payment" else None,
        paid_at=order.paid_at,
        version=order.version,
        lines=[schemas.OrderLine.model_validate(line) for line in lines],
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def summaries(where: Sequence[Any]) -> Select[Any]:
    item_count = (
        select(func.coalesce(func.sum(OrderLine.quantity), 0))
        .where(OrderLine.order_id == Order.id)
        .correlate(Order)
        .scalar_subquery()
    )
    return (
        select(
            Order.id,
            Order.user_id,
            Order.status,
            Order.currency,
            Order.total,
            item_count.label("item_count"),
            Order.created_at,
        )
        .where(*where)
        .order_by(Order.created_at.desc(), Order.id.desc())
    )


async def summary_page(
    session: AsyncSession, where: Sequence[Any], listing: PageSlice
) -> tuple[list[schemas.OrderSummary], int]:
    rows, total = await offset_page(session, summaries(where), listing, scalars=False)
    return [
        schemas.OrderSummary.model_construct(
            id=row.id,
            user_id=row.user_id,
            status=row.status,
            currency=row.currency,
            total=row.total,
            item_count=int(row.item_count),
            created_at=row.created_at,
        )
        for row in rows
    ], total


async def expired_reservations(session: AsyncSession, now: datetime, limit: int) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(Order.id)
        .where(Order.status == "pending_payment", Order.reserved_until < now)
        .order_by(Order.reserved_until)
        .limit(limit)
    )
    return list(rows)
