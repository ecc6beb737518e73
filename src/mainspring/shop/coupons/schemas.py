"""Request and response models of coupons."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from mainspring.core.schemas import Input, Schema

Code = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,40}$", to_upper=True),
    Field(description="Case-insensitive; stored upper-case."),
]


class CouponCreate(Input):
    code: Code
    kind: Literal["percent", "fixed"]
    value: int = Field(ge=1, le=100_000_000, description="Percent (1-100) or minor units.")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        None, description="Required for `fixed`: the currency of `value`."
    )
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    max_uses: int | None = Field(None, ge=1, le=10_000_000, description="In total.")
    max_uses_per_user: int | None = Field(None, ge=1, le=1000)

    model_config = Input.model_config | {
        "json_schema_extra": {
            "examples": [
                {"code": "WELCOME10", "kind": "percent", "value": 10, "max_uses_per_user": 1}
            ]
        }
    }

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind == "percent" and self.value > 100:
            raise ValueError("a percent coupon's value is at most 100")
        if self.kind == "fixed" and self.currency is None:
            raise ValueError("a fixed coupon needs a currency")
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class Coupon(Schema):
    id: uuid.UUID
    code: str
    kind: str
    value: int
    currency: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    max_uses: int | None
    max_uses_per_user: int | None
    used_count: int
    active: bool
