"""Response models of the staff reports (money in minor units, per currency)."""

from __future__ import annotations

import uuid
from datetime import date

from mainspring.core.schemas import Schema


class RevenueBucket(Schema):
    period_start: date
    currency: str
    orders: int
    revenue: int
    """Paid totals minus refunds."""


class TopProduct(Schema):
    product_id: uuid.UUID | None
    name: str
    units: int
    revenue: int


class AverageOrderValue(Schema):
    currency: str
    orders: int
    average: int


class RepeatCustomers(Schema):
    customers: int
    repeat_customers: int
    rate: float


class LowStock(Schema):
    variant_id: uuid.UUID
    sku: str
    product_slug: str
    product_name: str
    stock: int
