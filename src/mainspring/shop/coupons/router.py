"""``/api/v1/shop/coupons``: staff create, list and deactivate discount codes."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from mainspring.core.deps import ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.pagination import PageSliceDep
from mainspring.core.schemas import Page
from mainspring.shop.coupons import schemas
from mainspring.shop.coupons.service import coupon_service
from mainspring.shop.deps import Staff

router = APIRouter(prefix="/coupons", tags=["shop: coupons"])


@router.post(
    "",
    status_code=201,
    summary="Create a coupon (staff)",
    responses=problem_responses(401, 403, 409),
)
async def create_coupon(
    data: schemas.CouponCreate, session: SessionDep, staff: Staff
) -> schemas.Coupon:
    """A percentage or fixed discount, valid between `starts_at` and `ends_at`, usable
    `max_uses` times in total and `max_uses_per_user` times per customer."""
    return await coupon_service.create(session, data)


@router.get("", summary="List coupons (staff)", responses=problem_responses(401, 403))
async def list_coupons(
    session: ReadSessionDep, staff: Staff, listing: PageSliceDep
) -> Page[schemas.Coupon]:
    items, total = await coupon_service.page(session, listing)
    return listing.respond(items, total)


@router.delete(
    "/{coupon_id}",
    status_code=204,
    summary="Deactivate a coupon (staff)",
    responses=problem_responses(401, 403, 404),
)
async def deactivate_coupon(coupon_id: uuid.UUID, session: SessionDep, staff: Staff) -> None:
    """The coupon stays on the orders that used it; it cannot be used again."""
    await coupon_service.deactivate(session, coupon_id)
