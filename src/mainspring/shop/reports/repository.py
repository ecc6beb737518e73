"""The reports: each one SQL statement, grouped and ordered by the database, never a loop in
Python. Paid orders are found by ``ix_shop_orders_paid_at`` (a range on ``paid_at``), lines by
``ix_shop_order_lines_order``, low stock by ``ix_shop_variants_stock``. docs/shop.md shows the
PostgreSQL plans.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Integer, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.db import dialect_of
from mainspring.shop.models import Order, OrderLine, Product, Variant
from mainspring.shop.reports import schemas

Period = Literal["day", "week", "month"]


def _paid_between(since: datetime, until: datetime) -> list[ColumnElement[bool]]:
    return [Order.paid_at >= since, Order.paid_at < until]


def _bucket(dialect: str, period: Period) -> Any:
    if dialect == "postgresql":
        return func.date(func.date_trunc(period, func.timezone("UTC", Order.paid_at)))
    if period == "day":
        return func.date(Order.paid_at)
    if period == "month":
        return func.date(Order.paid_at, "start of month")
    # ISO weeks start on Monday: the Monday on or before the day.
    return func.date(Order.paid_at, "-6 days", "weekday 1")


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def revenue(
    session: AsyncSession, period: Period, since: datetime, until: datetime
) -> list[schemas.RevenueBucket]:
    bucket = _bucket(dialect_of(session), period).label("bucket")
    rows = await session.execute(
        select(
            bucket,
            Order.currency,
            func.count(),
            func.sum(Order.total - Order.refunded_amount),
        )
        .where(*_paid_between(since, until))
        .group_by(bucket, Order.currency)
        .order_by(bucket, Order.currency)
    )
    return [
        schemas.RevenueBucket.model_construct(
            period_start=_as_date(start), currency=currency, orders=n, revenue=int(amount or 0)
        )
        for start, currency, n, amount in rows
    ]


async def top_products(
    session: AsyncSession, since: datetime, until: datetime, limit: int
) -> list[schemas.TopProduct]:
    units = func.sum(OrderLine.quantity).label("units")
    rows = await session.execute(
        select(
            OrderLine.product_id,
            func.max(OrderLine.name),
            units,
            func.sum(OrderLine.line_total),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .where(*_paid_between(since, until))
        .group_by(OrderLine.product_id)
        .order_by(units.desc(), OrderLine.product_id)
        .limit(limit)
    )
    return [
        schemas.TopProduct.model_construct(
            product_id=product_id, name=name, units=int(n), revenue=int(amount)
        )
        for product_id, name, n, amount in rows
    ]


async def average_order_value(
    session: AsyncSession, since: datetime, until: datetime
) -> list[schemas.AverageOrderValue]:
    rows = await session.execute(
        select(Order.currency, func.count(), cast(func.round(func.avg(Order.total)), Integer))
        .where(*_paid_between(since, until))
        .group_by(Order.currency)
        .order_by(Order.currency)
    )
    return [
        schemas.AverageOrderValue.model_construct(currency=c, orders=n, average=int(avg or 0))
        for c, n, avg in rows
    ]


async def repeat_customers(
    session: AsyncSession, since: datetime, until: datetime
) -> schemas.RepeatCustomers:
    per_customer = (
        select(Order.user_id, func.count().label("orders"))
        .where(*_paid_between(since, until))
        .group_by(Order.user_id)
        .subquery()
    )
    customers, repeat = (
        await session.execute(
            select(func.count(), func.count().filter(per_customer.c.orders > 1)).select_from(
                per_customer
            )
        )
    ).one()
    return schemas.RepeatCustomers.model_construct(
        customers=customers,
        repeat_customers=repeat,
        rate=round(repeat / customers, 4) if customers else 0.0,
    )


async def low_stock(session: AsyncSession, threshold: int, limit: int) -> list[schemas.LowStock]:
    rows = await session.execute(
        select(Variant.id, Variant.sku, Product.slug, Product.name, Variant.stock)
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.stock <= threshold)
        .order_by(Variant.stock, Variant.sku)
        .limit(limit)
    )
    return [
        schemas.LowStock.model_construct(
            variant_id=vid, sku=sku, product_slug=slug, product_name=name, stock=stock
        )
        for vid, sku, slug, name, stock in rows
    ]
