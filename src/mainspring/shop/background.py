"""The shop's background work: releasing the stock of unpaid orders, purging expired carts.

Both are schedules (the kernel enqueues one job per slot however many workers run) and safe
to repeat: an order is cancelled by a conditional UPDATE on its status, so a second run, or a
payment arriving at the same moment, never releases the same units twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mainspring.core.background import JobContext, schedule
from mainspring.core.db import utcnow
from mainspring.shop.cart.service import cart_service
from mainspring.shop.orders.service import order_service


@schedule("shop.release_expired_reservations", every=timedelta(minutes=1))
async def release_expired_reservations(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Cancel the unpaid orders whose reservation has passed and give their units back."""
    await order_service.release_expired(ctx.session, utcnow())


@schedule("shop.purge_expired_carts", every=timedelta(hours=1))
async def purge_expired_carts(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Delete carts nobody touched for ``MAINSPRING_SHOP_CART_TTL_DAYS``."""
    await cart_service.purge_expired(ctx.session)
