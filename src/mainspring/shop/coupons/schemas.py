"""Request and response models of coupons."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from mainspring.core.schemas import DateTime, Input, Integer, Schema

Code = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9_-]{3,40}$", to_upper=True),
    Field(description="Case-insensitive; stored upper-case."),
]


class CouponCreate(Input):
    """A percent coupon's value is at most 100; a fixed one names its currency (both published
    in ``schema_rules``). ``ends_at`` after ``starts_at`` is the service's rule (400)."""

    code: Code
    kind: Literal["percent", "fixed"]
    value: Integer = Field(ge=1, le=100_000_000, description="Percent (1-100) or minor units.")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        None, description="Required for `fixed`: the currency of `value`."
    )
    starts_at: DateTime | None = None
    ends_at: DateTime | None = None
    max_uses: Integer | None = Field(None, ge=1, le=10_000_000, description="In total.")
    max_uses_per_user: Integer | None = Field(None, ge=1, le=1000)

    schema_rules: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {"properties": {"kind": {"const": "percent"}, "value": {"maximum": 100}}},
            {
                "properties": {"kind": {"const": "fixed"}, "currency": {"type": "string"}},
                "required": ["currency"],
            },
        ],
        "examples": [{"code": "WELCOME10", "kind": "percent", "value": 10, "max_uses_per_user": 1}],
    }

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind == "percent" and self.value > 100:
            raise ValueError("a percent coupon's value is at most 100")
        if self.kind == "fixed" and self.currency is None:
            raise ValueError("a fixed coupon needs a currency")
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
