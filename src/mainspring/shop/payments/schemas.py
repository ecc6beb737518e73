"""Request and response models of payments and refunds."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, StringConstraints

from mainspring.core.schemas import Input, Integer, Schema


class PaymentCreate(Input):
    provider: Literal["manual", "stripe"] = Field(
        description="`stripe` answers a `client_secret` for Stripe.js; `manual` waits for staff."
    )

    schema_rules: ClassVar[dict[str, Any]] = {"examples": [{"provider": "stripe"}]}


class RefundCreate(Input):
    amount: Integer | None = Field(
        None, ge=1, le=100_000_000_00, description="Minor units; default: all that is left."
    )
    reason: Annotated[str, StringConstraints(max_length=200)] = ""


class Refund(Schema):
    id: uuid.UUID
    amount: int
    provider_ref: str
    reason: str
    created_at: datetime


class Payment(Schema):
    id: uuid.UUID
    order_id: uuid.UUID
    provider: str
    provider_ref: str = Field(description="The provider's id (a PaymentIntent id).")
    status: str
    amount: int
    currency: str
    refunded_amount: int
    client_secret: str | None = Field(description="For Stripe.js, to confirm the card payment.")
    created_at: datetime


class WebhookAck(Schema):
    received: bool = True
    duplicate: bool = Field(False, description="The event was already processed.")
