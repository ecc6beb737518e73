"""``/api/v1/shop/orders/{id}/payments`` and ``/refunds``, ``/api/v1/shop/payments/{id}/confirm``
(manual payments) and ``/api/v1/shop/webhooks/stripe``. Thin handlers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request

from mainspring.core.auth import CurrentPrincipal
from mainspring.core.deps import ReadSessionDep, SessionDep, SettingsDep
from mainspring.core.errors import problem_responses
from mainspring.core.idempotency import IdempotentRoute, PendingKey, idempotent
from mainspring.shop.deps import CheckoutLimit, Staff
from mainspring.shop.payments import schemas
from mainspring.shop.payments.providers import verify_stripe_event
from mainspring.shop.payments.service import payment_service

router = APIRouter(tags=["shop: payments"], route_class=IdempotentRoute)

RequiredKey = Annotated[PendingKey | None, Depends(idempotent(required=True))]


def _key(pending: PendingKey | None) -> str:
    assert pending is not None  # required=True answered 400 without a key
    return pending.key


@router.post(
    "/orders/{order_id}/payments",
    status_code=201,
    summary="Pay an order",
    dependencies=[CheckoutLimit],
    responses=problem_responses(401, 404, 409, 422, 429, 503),
)
async def start_payment(
    order_id: uuid.UUID,
    data: schemas.PaymentCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    pending: RequiredKey,
) -> schemas.Payment:
    """Start paying your unpaid order (409 otherwise) for its total. `stripe`: confirm the
    card with Stripe.js and `client_secret`; the order becomes `paid` when Stripe's webhook
    arrives. `Idempotency-Key` is required and passed through to Stripe."""
    return await payment_service.start(
        session, settings, principal.user_id, order_id, data, _key(pending)
    )


@router.get(
    "/orders/{order_id}/payments",
    summary="An order's payments",
    responses=problem_responses(401, 404),
)
async def list_payments(
    order_id: uuid.UUID, session: ReadSessionDep, principal: CurrentPrincipal
) -> list[schemas.Payment]:
    return await payment_service.of_order(session, principal, order_id)


@router.post(
    "/payments/{payment_id}/confirm",
    summary="Confirm a manual payment (staff)",
    responses=problem_responses(401, 403, 404, 409),
)
async def confirm_payment(
    payment_id: uuid.UUID, session: SessionDep, settings: SettingsDep, staff: Staff
) -> schemas.Payment:
    """Development payments: staff say the money arrived; the order becomes `paid`."""
    return await payment_service.confirm_manual(session, settings, payment_id)


@router.post(
    "/orders/{order_id}/refunds",
    status_code=201,
    summary="Refund an order (staff)",
    responses=problem_responses(401, 403, 404, 409, 422, 503),
)
async def refund_order(
    order_id: uuid.UUID,
    data: schemas.RefundCreate,
    session: SessionDep,
    settings: SettingsDep,
    staff: Staff,
    pending: RequiredKey,
) -> schemas.Refund:
    """Refund `amount` (default: all that is left) of the order's payment, at the provider.
    A full refund makes the order `refunded`; more than is left is 409. `Idempotency-Key`
    is required."""
    return await payment_service.refund(session, settings, staff, order_id, data, _key(pending))


@router.post(
    "/webhooks/stripe",
    summary="Stripe webhook",
    responses=problem_responses(400, 404, 422),
)
async def stripe_webhook(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    stripe_signature: Annotated[str | None, Header(max_length=2048)] = None,
) -> schemas.WebhookAck:
    """Stripe's events, verified by signature on the raw body (400 when it does not verify or
    is too old) and applied once: a redelivered event answers 200 with `duplicate: true`. 404
    while `MAINSPRING_SHOP_STRIPE_WEBHOOK_SECRET` is not set."""
    event = verify_stripe_event(await request.body(), stripe_signature, settings)
    applied = await payment_service.handle_event(session, settings, event)
    return schemas.WebhookAck.model_construct(received=True, duplicate=not applied)
