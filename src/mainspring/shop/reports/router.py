"""``/api/v1/shop/reports/...``: staff reports, each one SQL statement (``repository.py``).

Every report covers paid orders in ``[since, until)`` (default: the last 30 days)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mainspring.core.deps import ReadSessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.schemas import DateTime
from mainspring.shop.deps import Staff
from mainspring.shop.reports import repository, schemas
from mainspring.shop.reports.service import report_service

router = APIRouter(prefix="/reports", tags=["shop: reports"])

Since = Annotated[DateTime | None, Query(description="From (default: 30 days ago).")]
Until = Annotated[DateTime | None, Query(description="Before (default: now).")]
STAFF_ONLY = problem_responses(400, 401, 403, 422)


@router.get("/revenue", summary="Revenue by day, week or month (staff)", responses=STAFF_ONLY)
async def revenue(
    session: ReadSessionDep,
    staff: Staff,
    period: Annotated[repository.Period, Query(description="`day`, `week` or `month`.")] = "day",
    since: Since = None,
    until: Until = None,
) -> list[schemas.RevenueBucket]:
    """Paid orders and their revenue (totals minus refunds) per period and currency; weeks
    start on Monday, UTC."""
    return await report_service.revenue(session, period, since, until)


@router.get("/top-products", summary="Best-selling products (staff)", responses=STAFF_ONLY)
async def top_products(
    session: ReadSessionDep,
    staff: Staff,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[schemas.TopProduct]:
    return await report_service.top_products(session, since, until, limit)


@router.get("/average-order-value", summary="Average order value (staff)", responses=STAFF_ONLY)
async def average_order_value(
    session: ReadSessionDep, staff: Staff, since: Since = None, until: Until = None
) -> list[schemas.AverageOrderValue]:
    return await report_service.average_order_value(session, since, until)


@router.get("/repeat-customers", summary="Repeat-customer rate (staff)", responses=STAFF_ONLY)
async def repeat_customers(
    session: ReadSessionDep, staff: Staff, since: Since = None, until: Until = None
) -> schemas.RepeatCustomers:
    """Among customers with a paid order in the window, the share with more than one."""
    return await report_service.repeat_customers(session, since, until)


@router.get("/low-stock", summary="Variants running out (staff)", responses=STAFF_ONLY)
async def low_stock(
    session: ReadSessionDep,
    staff: Staff,
    threshold: Annotated[int, Query(ge=0, le=10_000)] = 5,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> list[schemas.LowStock]:
    return await report_service.low_stock(session, threshold, limit)
