"""Coupons: percentage or fixed discounts with a validity window and usage limits.

Limits hold under concurrency without locks held across statements: the total is claimed by
``UPDATE shop_coupons SET used_count = used_count + 1 WHERE id = :id AND used_count <
max_uses`` (a row count of 0 means spent), the per-user limit by an upsert on
``shop_coupon_uses`` whose ``DO UPDATE`` has the same condition. Both run inside the checkout's
transaction: a checkout that fails later gives its use back by rolling back.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.pagination import PageSlice, offset_page
from mainspring.shop.coupons import schemas
from mainspring.shop.dialects import upsert
from mainspring.shop.errors import (
    CouponCodeTaken,
    CouponInvalid,
    CouponNotFound,
    InvalidCouponWindow,
    UnknownCoupon,
)
from mainspring.shop.models import Coupon, CouponUse


def discount_of(coupon: Coupon, subtotal: int) -> int:
    """The discount a coupon gives on ``subtotal`` (never more than the subtotal)."""
    if coupon.kind == "percent":
        return min(subtotal, subtotal * coupon.value // 100)
    return min(subtotal, coupon.value)


class CouponService:
    async def create(self, session: AsyncSession, data: schemas.CouponCreate) -> schemas.Coupon:
        if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
            raise InvalidCouponWindow
        if await session.scalar(select(Coupon.id).where(Coupon.code == data.code)):
            raise CouponCodeTaken
        coupon = Coupon(**data.model_dump())
        session.add(coupon)
        try:
            await session.flush()
        except IntegrityError as exc:  # the same code created at the same moment
            raise CouponCodeTaken from exc
        return schemas.Coupon.model_validate(coupon)

    async def page(
        self, session: AsyncSession, listing: PageSlice
    ) -> tuple[list[schemas.Coupon], int]:
        rows, total = await offset_page(
            session, select(Coupon).order_by(Coupon.created_at.desc(), Coupon.id), listing
        )
        return [schemas.Coupon.model_validate(row) for row in rows], total

    async def deactivate(self, session: AsyncSession, coupon_id: uuid.UUID) -> None:
        coupon = await session.get(Coupon, coupon_id)
        if coupon is None:
            raise CouponNotFound
        coupon.active = False
        await session.flush()

    async def redeem(
        self,
        session: AsyncSession,
        code: str,
        user_id: uuid.UUID,
        currency: str,
        subtotal: int,
        now: datetime,
    ) -> tuple[Coupon, int]:
        """Check and claim one use of ``code`` for ``user_id``: the coupon and its discount."""
        coupon = await session.scalar(select(Coupon).where(Coupon.code == code.upper()))
        if coupon is None:
            raise UnknownCoupon
        if not coupon.active:
            raise CouponInvalid("This coupon is no longer valid.")
        if coupon.starts_at is not None and now < coupon.starts_at:
            raise CouponInvalid("This coupon is not valid yet.")
        if coupon.ends_at is not None and now >= coupon.ends_at:
            raise CouponInvalid("This coupon has expired.")
        if coupon.kind == "fixed" and coupon.currency != currency:
            raise CouponInvalid(f"This coupon is for orders in {coupon.currency}.")
        claimed = await session.execute(
            update(Coupon)
            .where(
                Coupon.id == coupon.id,
                (Coupon.max_uses.is_(None)) | (Coupon.used_count < Coupon.max_uses),
            )
            .values(used_count=Coupon.used_count + 1)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise CouponInvalid("This coupon has been used up.")
        stmt = upsert(session, CouponUse).values(coupon_id=coupon.id, user_id=user_id, uses=1)
        limit = coupon.max_uses_per_user
        per_user = stmt.on_conflict_do_update(
            index_elements=["coupon_id", "user_id"],
            set_={"uses": CouponUse.uses + 1},
            where=None if limit is None else CouponUse.uses < limit,
        ).returning(CouponUse.uses)
        if (await session.execute(per_user)).first() is None:
            raise CouponInvalid("You have already used this coupon as often as it allows.")
        return coupon, discount_of(coupon, subtotal)

    async def give_back(
        self, session: AsyncSession, coupon_id: uuid.UUID, user_id: uuid.UUID
    ) -> None:
        """Return the use of a cancelled order."""
        await session.execute(
            update(Coupon)
            .where(Coupon.id == coupon_id, Coupon.used_count > 0)
            .values(used_count=Coupon.used_count - 1)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(CouponUse)
            .where(
                CouponUse.coupon_id == coupon_id, CouponUse.user_id == user_id, CouponUse.uses > 0
            )
            .values(uses=CouponUse.uses - 1)
            .execution_options(synchronize_session=False)
        )


coupon_service = CouponService()
