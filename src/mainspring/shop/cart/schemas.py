"""Request and response models of carts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import Field, StringConstraints

from mainspring.core.schemas import Input, Integer, Schema

Quantity = Annotated[Integer, Field(ge=1, le=99, description="Units of the variant (1-99).")]
MAX_LINES = 50


class LineCreate(Input):
    """A variant to put in the cart; an existing line of it grows by ``quantity``. Prices are
    never sent: they are read from the catalogue (a `price` field is refused, 422)."""

    variant_id: uuid.UUID
    quantity: Quantity = 1

    schema_rules: ClassVar[dict[str, Any]] = {
        "examples": [{"variant_id": "0192f3a0-0000-7000-8000-000000000002", "quantity": 2}]
    }


class LineUpdate(Input):
    quantity: Quantity


class CartMerge(Input):
    token: Annotated[str, StringConstraints(min_length=20, max_length=100)] = Field(
        description="The guest cart's token."
    )


class CartLine(Schema):
    id: uuid.UUID
    variant_id: uuid.UUID
    sku: str
    product_slug: str
    product_name: str
    variant_name: str
    unit_price: int = Field(description="Today's price, minor units: checkout charges this.")
    currency: str
    quantity: int
    line_total: int
    available: bool = Field(description="Published, with enough stock for the quantity now.")


class Cart(Schema):
    id: uuid.UUID | None = Field(description="None until something is put in it.")
    currency: str | None
    lines: list[CartLine]
    item_count: int
    subtotal: int
    expires_at: datetime | None


class GuestCart(Schema):
    """A new guest cart: keep ``token`` and send it as `X-Cart-Token`; it is shown once."""

    token: str
    cart: Cart
