"""Payments and refunds of orders, through a provider (``providers.py``).

- A customer starts a payment of their unpaid order (``Idempotency-Key`` required; the key,
  scoped to the caller and the order, is passed through to Stripe). The amount is the order's
  total from the database.
- A payment succeeds by a verified Stripe webhook (``payment_intent.succeeded``) or, for the
  ``manual`` provider, by staff. The order then becomes ``paid``. Each webhook event is
  processed once: its id is inserted into ``shop_webhook_events`` with ``ON CONFLICT DO
  NOTHING`` in the same transaction as its effects, so a redelivery (Stripe retries until it
  gets a 2xx) changes nothing.
- A payment that succeeds for an order that is no longer waiting (the reservation expired and
  the order was cancelled) is refunded in full at once: nobody pays for an order they will not
  get.
- Staff refund all or part of a succeeded payment; the refunded total can never pass the
  amount (a conditional UPDATE), and a full refund moves the order to ``refunded``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.auth import Principal
from mainspring.core.config import Settings
from mainspring.shop.dialects import upsert
from mainspring.shop.errors import (
    IllegalTransition,
    OrderNotFound,
    PaymentNotFound,
    PaymentRefused,
    RefundTooLarge,
)
from mainspring.shop.models import Payment, Refund, WebhookEvent
from mainspring.shop.orders.service import order_service
from mainspring.shop.payments import schemas
from mainspring.shop.payments.providers import (
    WebhookEvent as ProviderEvent,
)
from mainspring.shop.payments.providers import (
    provider,
    provider_key,
)
from mainspring.shop.roles import is_staff


class PaymentService:
    async def start(
        self,
        session: AsyncSession,
        settings: Settings,
        user_id: uuid.UUID,
        order_id: uuid.UUID,
        data: schemas.PaymentCreate,
        idempotency_key: str,
    ) -> schemas.Payment:
        order = await order_service.payable(session, user_id, order_id)
        chosen = provider(data.provider, settings)
        intent = await chosen.create(
            amount=order.total,
            currency=order.currency,
            order_id=order.id,
            idempotency_key=provider_key(f"{user_id}:payment:{order.id}", idempotency_key),
        )
        payment = Payment(
            order_id=order.id,
            provider=chosen.name,
            provider_ref=intent.ref,
            amount=order.total,
            currency=order.currency,
            status="pending",
            client_secret=intent.client_secret,
        )
        session.add(payment)
        await session.flush()
        return schemas.Payment.model_validate(payment)

    async def of_order(
        self, session: AsyncSession, principal: Principal, order_id: uuid.UUID
    ) -> list[schemas.Payment]:
        await order_service.get(session, principal, order_id)  # 404 for others
        rows = await session.scalars(
            select(Payment).where(Payment.order_id == order_id).order_by(Payment.created_at)
        )
        return [schemas.Payment.model_validate(row) for row in rows]

    async def _succeeded(self, session: AsyncSession, settings: Settings, payment: Payment) -> None:
        """Mark ``payment`` succeeded (once) and its order paid, or refund it if the order
        stopped waiting."""
        moved = await session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.status == "pending")
            .values(status="succeeded")
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return
        await session.refresh(payment)
        order = await order_service.entity(session, payment.order_id)
        if not await order_service.mark_paid(session, order):
            refund_ref = await provider(payment.provider, settings).refund(
                ref=payment.provider_ref,
                amount=payment.amount,
                idempotency_key=provider_key(f"auto-refund:{payment.id}", payment.provider_ref),
            )
            payment.refunded_amount = payment.amount
            session.add(
                Refund(
                    payment_id=payment.id,
                    amount=payment.amount,
                    provider_ref=refund_ref,
                    reason=f"order was {order.status} when the payment arrived",
                )
            )
            await session.flush()

    async def confirm_manual(
        self, session: AsyncSession, settings: Settings, payment_id: uuid.UUID
    ) -> schemas.Payment:
        """Staff confirm that a ``manual`` payment arrived."""
        payment = await session.get(Payment, payment_id)
        if payment is None:
            raise PaymentNotFound
        if payment.provider != "manual":
            raise PaymentRefused("Only manual payments are confirmed by hand.")
        if payment.status != "pending":
            raise PaymentRefused(f"The payment is already {payment.status}.")
        await self._succeeded(session, settings, payment)
        await session.refresh(payment)
        return schemas.Payment.model_validate(payment)

    async def handle_event(
        self, session: AsyncSession, settings: Settings, event: ProviderEvent
    ) -> bool:
        """Apply a verified Stripe event once; False if it was already processed."""
        inserted = await session.execute(
            upsert(session, WebhookEvent)
            .values(provider="stripe", event_id=event.id, type=event.type[:100])
            .on_conflict_do_nothing()
            .returning(WebhookEvent.event_id)
        )
        if inserted.first() is None:
            return False
        if event.ref is None:
            return True
        payment = await session.scalar(
            select(Payment).where(Payment.provider == "stripe", Payment.provider_ref == event.ref)
        )
        if payment is None:
            return True  # not ours (another integration on the same account)
        if event.type == "payment_intent.succeeded":
            if event.amount != payment.amount or event.currency != payment.currency:
                return True  # never trust an amount we did not ask for
            await self._succeeded(session, settings, payment)
        elif event.type in ("payment_intent.payment_failed", "payment_intent.canceled"):
            status = "failed" if event.type.endswith("failed") else "cancelled"
            await session.execute(
                update(Payment)
                .where(Payment.id == payment.id, Payment.status == "pending")
                .values(status=status)
                .execution_options(synchronize_session=False)
            )
        return True

    async def refund(
        self,
        session: AsyncSession,
        settings: Settings,
        principal: Principal,
        order_id: uuid.UUID,
        data: schemas.RefundCreate,
        idempotency_key: str,
    ) -> schemas.Refund:
        """Refund all (no ``amount``) or part of an order's succeeded payment (staff)."""
        if not is_staff(principal):
            raise OrderNotFound
        order = await order_service.entity(session, order_id)
        if order.status not in ("paid", "fulfilled", "shipped", "delivered"):
            raise IllegalTransition(order.status, "refunded")
        payment = await session.scalar(
            select(Payment).where(Payment.order_id == order_id, Payment.status == "succeeded")
        )
        if payment is None:
            raise PaymentNotFound
        left = payment.amount - payment.refunded_amount
        amount = data.amount if data.amount is not None else left
        claimed = await session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.refunded_amount + amount <= Payment.amount)
            .values(refunded_amount=Payment.refunded_amount + amount)
            .execution_options(synchronize_session=False)
        )
        if amount <= 0 or claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise RefundTooLarge(f"At most {left} {payment.currency} minor units are refundable.")
        ref = await provider(payment.provider, settings).refund(
            ref=payment.provider_ref,
            amount=amount,
            idempotency_key=provider_key(f"{principal.user_id}:refund:{order_id}", idempotency_key),
        )
        refund = Refund(payment_id=payment.id, amount=amount, provider_ref=ref, reason=data.reason)
        session.add(refund)
        await session.flush()
        await order_service.record_refund(session, order, amount)
        return schemas.Refund.model_validate(refund)


payment_service = PaymentService()
