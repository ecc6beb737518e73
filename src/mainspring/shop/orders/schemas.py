"""Request and response models of checkout and orders."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import Field, StringConstraints

from mainspring.core.schemas import Input, Schema
from mainspring.shop.orders.states import StaffTarget


class CheckoutCreate(Input):
    """Checkout takes the caller's cart as it is now. Prices, totals and stock come from the
    database: a client cannot send them (unknown fields are refused, 422)."""

    coupon_code: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,40}$")] | None = None

    schema_rules: ClassVar[dict[str, Any]] = {"examples": [{"coupon_code": "WELCOME10"}]}


class TransitionCreate(Input):
    to: StaffTarget = Field(description="`fulfilled`, `shipped`, `delivered` or `cancelled`.")


class OrderLine(Schema):
    id: uuid.UUID
    variant_id: uuid.UUID | None
    product_id: uuid.UUID | None
    sku: str
    name: str
    unit_price: int
    quantity: int
    line_total: int


class OrderSummary(Schema):
    id: uuid.UUID
    user_id: uuid.UUID
    status: str
    currency: str
    total: int
    item_count: int
    created_at: datetime


class Order(Schema):
    """An order, its lines as bought, and its money in minor units."""

    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    status: str
    currency: str
    subtotal: int
    discount: int
    total: int
    refunded_amount: int
    coupon_code: str | None
    reserved_until: datetime | None = Field(
        description="Pay before then, or the order is cancelled and its stock released."
    )
    paid_at: datetime | None
    version: int
    lines: list[OrderLine]
    created_at: datetime
    updated_at: datetime
