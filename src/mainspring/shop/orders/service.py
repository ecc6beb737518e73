"""Checkout and orders: the cart becomes an order in ONE transaction, and orders move only
along the state machine (``states.py``).

Checkout, inside the request's unit of work (nothing is committed unless all of it holds):

1. read the caller's cart with today's prices from the catalogue (the client sends no price);
2. refuse an empty cart, unpublished products, mixed currencies;
3. reserve each line's units by conditional decrement (``repository.reserve``): one line
   short and the whole checkout fails with 409 ``out-of-stock``, nothing reserved;
4. claim the coupon's use (``coupons/service.py``: limits by conditional UPDATE and upsert);
5. write the order and its lines (prices copied), empty the cart, queue the confirmation mail.

``Idempotency-Key`` is required on checkout (the router): a retried request replays the first
order instead of making a second one. The reservation holds for ``shop_reservation_minutes``;
an unpaid order is then cancelled by ``background.release_expired`` and its units released.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.core.auth import Principal
from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.core.mail import send_mail
from mainspring.core.pagination import PageSlice
from mainspring.shop.cart import repository as cart_repository
from mainspring.shop.cart.service import cart_service
from mainspring.shop.catalog.service import product_service
from mainspring.shop.coupons.service import coupon_service
from mainspring.shop.errors import (
    CartEmpty,
    CurrencyMismatch,
    IllegalTransition,
    OrderNotFound,
    OutOfStock,
    Unavailable,
)
from mainspring.shop.models import Order
from mainspring.shop.orders import repository, schemas
from mainspring.shop.orders.states import require_legal
from mainspring.shop.roles import is_staff

EXPIRY_BATCH = 100


def _money(amount: int, currency: str) -> str:
    return f"{amount / 100:.2f} {currency}"


class OrderService:
    async def checkout(
        self,
        session: AsyncSession,
        settings: Settings,
        user_id: uuid.UUID,
        data: schemas.CheckoutCreate,
        *,
        notify: bool = True,
    ) -> schemas.Order:
        """The checkout (module docstring); ``notify=False`` (demo data) queues no mail."""
        cart = await cart_repository.by_user(session, user_id)
        lines = [] if cart is None else await repository.checkout_lines(session, cart.id)
        if cart is None or not lines or cart.expires_at <= utcnow():
            raise CartEmpty
        unavailable = [line.sku for line in lines if not line.published]
        if unavailable:
            raise Unavailable(f"No longer for sale: {', '.join(unavailable)}. Remove it first.")
        currencies = {line.currency for line in lines}
        if len(currencies) != 1:
            raise CurrencyMismatch("A cart is paid in one currency.")
        currency = currencies.pop()
        for line in lines:
            if not await repository.reserve(session, line.variant_id, line.quantity):
                raise OutOfStock(
                    f"Not enough stock of {line.sku} for {line.quantity}.", sku=line.sku
                )
        subtotal = sum(line.price * line.quantity for line in lines)
        now = utcnow()
        coupon_id, discount = None, 0
        if data.coupon_code is not None:
            coupon, discount = await coupon_service.redeem(
                session, data.coupon_code, user_id, currency, subtotal, now
            )
            coupon_id = coupon.id
        email = await session.scalar(select(User.email).where(User.id == user_id))
        order = Order(
            user_id=user_id,
            status="pending_payment",
            currency=currency,
            subtotal=subtotal,
            discount=discount,
            total=subtotal - discount,
            coupon_id=coupon_id,
            email=email or "",
            reserved_until=now + timedelta(minutes=settings.shop_reservation_minutes),
        )
        await repository.add_order(session, order, lines)
        await cart_service.clear(session, cart.id)
        await product_service.refresh(session, {line.product_id for line in lines})
        detail = await self._detail(session, order.id)
        if not notify:
            return detail
        await send_mail(
            session,
            to=order.email,
            template="shop/order_confirmation",
            context={"order": detail, "total": _money(detail.total, currency), "money": _money},
        )
        return detail

    async def _detail(self, session: AsyncSession, order_id: uuid.UUID) -> schemas.Order:
        order = await repository.detail(session, order_id)
        if order is None:
            raise OrderNotFound
        return order

    async def get(
        self, session: AsyncSession, principal: Principal, order_id: uuid.UUID
    ) -> schemas.Order:
        """The caller's order, or any order for staff; 404 for everyone else."""
        order = await repository.detail(session, order_id)
        if order is None or not (order.user_id == principal.user_id or is_staff(principal)):
            raise OrderNotFound
        return order

    async def mine(
        self, session: AsyncSession, user_id: uuid.UUID, listing: PageSlice
    ) -> tuple[list[schemas.OrderSummary], int]:
        return await repository.summary_page(session, [Order.user_id == user_id], listing)

    async def all(
        self,
        session: AsyncSession,
        listing: PageSlice,
        *,
        status: str | None,
        user_id: uuid.UUID | None,
        since: datetime | None,
        until: datetime | None,
    ) -> tuple[list[schemas.OrderSummary], int]:
        where = []
        if status is not None:
            where.append(Order.status == status)
        if user_id is not None:
            where.append(Order.user_id == user_id)
        if since is not None:
            where.append(Order.created_at >= since)
        if until is not None:
            where.append(Order.created_at < until)
        return await repository.summary_page(session, where, listing)

    async def _move(
        self, session: AsyncSession, order: Order, target: str, **values: object
    ) -> None:
        require_legal(order.status, target)
        if not await repository.move(session, order.id, order.status, target, **values):
            current = await repository.entity(session, order.id)
            raise IllegalTransition(current.status if current else order.status, target)

    async def transition(
        self, session: AsyncSession, principal: Principal, order_id: uuid.UUID, target: str
    ) -> schemas.Order:
        """A transition by hand: staff move orders along; a customer may only cancel their
        own unpaid order."""
        order = await repository.entity(session, order_id)
        staff = is_staff(principal)
        if order is None or not (staff or order.user_id == principal.user_id):
            raise OrderNotFound
        if not staff and target != "cancelled":
            raise IllegalTransition(order.status, target)
        if target == "cancelled":
            await self.cancel(session, order)
        else:
            await self._move(session, order, target)
            if target == "shipped":
                detail = await self._detail(session, order.id)
                await send_mail(
                    session,
                    to=order.email,
                    template="shop/shipped",
                    context={"order": detail, "money": _money},
                )
        return await self._detail(session, order_id)

    async def cancel(self, session: AsyncSession, order: Order) -> None:
        """Cancel an unpaid order: its units and its coupon use are given back."""
        await self._move(session, order, "cancelled", reserved_until=None)
        product_ids = await repository.release(session, order.id)
        await product_service.refresh(session, set(product_ids))
        if order.coupon_id is not None:
            await coupon_service.give_back(session, order.coupon_id, order.user_id)

    async def release_expired(self, session: AsyncSession, now: datetime) -> int:
        """Cancel the unpaid orders whose reservation has passed; how many were cancelled.
        A payment that lands at the same moment wins or loses by the conditional UPDATE."""
        cancelled = 0
        for order_id in await repository.expired_reservations(session, now, EXPIRY_BATCH):
            order = await repository.entity(session, order_id)
            if order is None or order.status != "pending_payment":
                continue
            if await repository.move(
                session, order.id, "pending_payment", "cancelled", reserved_until=None
            ):
                product_ids = await repository.release(session, order.id)
                await product_service.refresh(session, set(product_ids))
                if order.coupon_id is not None:
                    await coupon_service.give_back(session, order.coupon_id, order.user_id)
                cancelled += 1
        return cancelled

    # --- for payments ---------------------------------------------------------------------------

    async def payable(
        self, session: AsyncSession, user_id: uuid.UUID, order_id: uuid.UUID
    ) -> Order:
        """The caller's order, if it is waiting for payment (409 otherwise)."""
        order = await repository.entity(session, order_id)
        if order is None or order.user_id != user_id:
            raise OrderNotFound
        if order.status != "pending_payment":
            raise IllegalTransition(order.status, "paid")
        return order

    async def entity(self, session: AsyncSession, order_id: uuid.UUID) -> Order:
        order = await repository.entity(session, order_id)
        if order is None:
            raise OrderNotFound
        return order

    async def mark_paid(self, session: AsyncSession, order: Order, *, notify: bool = True) -> bool:
        """``pending_payment -> paid``; False if the order was no longer waiting (cancelled by
        the expiry, or already paid by a redelivered event). ``notify=False``: no mail."""
        if not await repository.move(
            session, order.id, "pending_payment", "paid", paid_at=utcnow(), reserved_until=None
        ):
            return False
        await product_service.sold(session, await repository.count_sales(session, order.id))
        if not notify:
            return True
        detail = await self._detail(session, order.id)
        await send_mail(
            session,
            to=order.email,
            template="shop/payment_received",
            context={"order": detail, "total": _money(detail.total, detail.currency)},
        )
        return True

    async def record_refund(self, session: AsyncSession, order: Order, amount: int) -> None:
        """Add ``amount`` to the order's refunds; a full refund moves it to ``refunded``."""
        order.refunded_amount += amount
        order.version += 1
        await session.flush()
        if order.refunded_amount >= order.total:
            await self._move(session, order, "refunded")

    async def detail(self, session: AsyncSession, order_id: uuid.UUID) -> schemas.Order:
        return await self._detail(session, order_id)


order_service = OrderService()
