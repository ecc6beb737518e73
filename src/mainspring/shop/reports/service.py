"""The staff reports: the window rule, then one repository statement per report."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.db import utcnow
from mainspring.shop.errors import InvalidWindow
from mainspring.shop.reports import repository, schemas

DEFAULT_WINDOW = timedelta(days=30)
MAX_WINDOW = timedelta(days=3 * 366)


def window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """``[since, until)``: default the last 30 days; at most three years."""
    end = until or utcnow()
    start = since or end - DEFAULT_WINDOW
    if start >= end or end - start > MAX_WINDOW:
        raise InvalidWindow
    return start, end


class ReportService:
    async def revenue(
        self,
        session: AsyncSession,
        period: repository.Period,
        since: datetime | None,
        until: datetime | None,
    ) -> list[schemas.RevenueBucket]:
        return await repository.revenue(session, period, *window(since, until))

    async def top_products(
        self, session: AsyncSession, since: datetime | None, until: datetime | None, limit: int
    ) -> list[schemas.TopProduct]:
        return await repository.top_products(session, *window(since, until), limit)

    async def average_order_value(
        self, session: AsyncSession, since: datetime | None, until: datetime | None
    ) -> list[schemas.AverageOrderValue]:
        return await repository.average_order_value(session, *window(since, until))

    async def repeat_customers(
        self, session: AsyncSession, since: datetime | None, until: datetime | None
    ) -> schemas.RepeatCustomers:
        return await repository.repeat_customers(session, *window(since, until))

    async def low_stock(
        self, session: AsyncSession, threshold: int, limit: int
    ) -> list[schemas.LowStock]:
        return await repository.low_stock(session, threshold, limit)


report_service = ReportService()
