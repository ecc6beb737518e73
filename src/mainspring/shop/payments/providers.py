"""Payment providers behind one interface: ``manual`` (development: staff confirm the
payment by hand) and ``stripe`` (PaymentIntents through the official SDK).

A provider creates a payment for an amount (passing the caller's idempotency key through, so a
retried request never makes a second PaymentIntent at Stripe), refunds all or part of it, and,
for Stripe, verifies webhook events: the ``Stripe-Signature`` header is an HMAC-SHA256 of
``timestamp.raw_body`` with the endpoint's secret, and a timestamp older than the tolerance is
refused (a replayed capture of an old event does not verify).
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mainspring.core.config import Settings
from mainspring.shop.errors import (
    InvalidSignature,
    ProviderNotConfigured,
    ProviderUnavailable,
    WebhookNotConfigured,
)

if TYPE_CHECKING:
    import stripe

PROVIDERS = ("manual", "stripe")


@dataclass(frozen=True)
class Intent:
    """What a provider says about a payment."""

    ref: str
    status: str  # pending | succeeded | failed | cancelled
    amount: int
    currency: str
    client_secret: str | None = None


@dataclass(frozen=True)
class WebhookEvent:
    id: str
    type: str
    ref: str | None
    """The PaymentIntent id the event is about (``data.object.id``)."""
    amount: int | None
    currency: str | None


class PaymentProvider(Protocol):
    name: str

    async def create(
        self, *, amount: int, currency: str, order_id: uuid.UUID, idempotency_key: str
    ) -> Intent: ...

    async def refund(self, *, ref: str, amount: int, idempotency_key: str) -> str:
        """Refund ``amount`` of the payment ``ref``; the refund's id at the provider."""
        ...


class ManualProvider:
    """Development payments: nothing is charged; staff confirm a payment by hand."""

    name = "manual"

    async def create(
        self, *, amount: int, currency: str, order_id: uuid.UUID, idempotency_key: str
    ) -> Intent:
        return Intent(
            ref=f"manual_{uuid.uuid4().hex}", status="pending", amount=amount, currency=currency
        )

    async def refund(self, *, ref: str, amount: int, idempotency_key: str) -> str:
        return f"manual_refund_{uuid.uuid4().hex}"


def _status(stripe_status: str) -> str:
    if stripe_status == "succeeded":
        return "succeeded"
    if stripe_status == "canceled":
        return "cancelled"
    return "pending"


def provider_key(scope: str, idempotency_key: str) -> str:
    """The key sent to the provider: the caller's key, scoped to the caller and the operation,
    hashed so that it fits Stripe's 255 characters."""
    return hashlib.sha256(f"{scope}\0{idempotency_key}".encode()).hexdigest()


class StripeProvider:
    """Stripe PaymentIntents and refunds through the official SDK's async client."""

    name = "stripe"

    def __init__(self, client: stripe.StripeClient) -> None:
        self._client = client

    async def create(
        self, *, amount: int, currency: str, order_id: uuid.UUID, idempotency_key: str
    ) -> Intent:
        import stripe  # loaded by now (see _stripe_client): a dictionary lookup

        try:
            intent = await self._client.v1.payment_intents.create_async(
                {
                    "amount": amount,
                    "currency": currency.lower(),
                    "metadata": {"order_id": str(order_id)},
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise ProviderUnavailable(
                "Stripe did not accept the payment; try again shortly.",
                headers={"Retry-After": "5"},
            ) from exc
        return Intent(
            ref=intent.id,
            status=_status(intent.status),
            amount=intent.amount,
            currency=intent.currency.upper(),
            client_secret=intent.client_secret,
        )

    async def refund(self, *, ref: str, amount: int, idempotency_key: str) -> str:
        import stripe

        try:
            refund = await self._client.v1.refunds.create_async(
                {"payment_intent": ref, "amount": amount}, {"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as exc:
            raise ProviderUnavailable(
                "Stripe did not accept the refund; try again shortly.", headers={"Retry-After": "5"}
            ) from exc
        return str(refund.id)


def verify_stripe_event(payload: bytes, signature: str | None, settings: Settings) -> WebhookEvent:
    """The event of a webhook request, if its signature verifies on the raw body within the
    timestamp tolerance (``InvalidSignature``, 400, otherwise)."""
    secret = settings.shop_stripe_webhook_secret
    if secret is None:
        raise WebhookNotConfigured("Stripe webhooks are not configured here.")
    if not signature:
        raise InvalidSignature("The Stripe-Signature header is missing.")
    import stripe

    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8", errors="replace"),
            signature,
            secret.get_secret_value(),
            tolerance=settings.shop_webhook_tolerance_seconds,
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature from exc
    except ValueError as exc:  # not JSON
        raise InvalidSignature("The webhook body is not a Stripe event.") from exc
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise InvalidSignature("The webhook body is not a Stripe event.")
    obj: Any = event["data"].get("object")
    if not isinstance(obj, dict):
        obj = {}
    amount = obj.get("amount")
    return WebhookEvent(
        id=str(event.get("id") or ""),
        type=str(event.get("type") or ""),
        ref=str(obj["id"]) if obj.get("id") else None,
        amount=amount if isinstance(amount, int) else None,
        currency=str(obj["currency"]).upper() if obj.get("currency") else None,
    )


@functools.lru_cache(maxsize=8)
def _stripe_client(api_key: str, api_base: str | None) -> stripe.StripeClient:
    # The SDK (about 8 MiB with the requests library it imports) is loaded by the first
    # Stripe payment of a process, not at start: most deployments never configure it.
    import stripe

    base = {"api": api_base} if api_base else None
    return stripe.StripeClient(
        api_key,
        base_addresses=base,  # type: ignore[arg-type]
        http_client=stripe.HTTPXClient(),
        max_network_retries=2,
    )


def provider(name: str, settings: Settings) -> PaymentProvider:
    """The provider ``name``, as configured (409 for Stripe without a key)."""
    if name == "manual":
        return ManualProvider()
    key = settings.shop_stripe_secret_key
    if key is None:
        raise ProviderNotConfigured("The stripe provider needs MAINSPRING_SHOP_STRIPE_SECRET_KEY.")
    return StripeProvider(_stripe_client(key.get_secret_value(), settings.shop_stripe_api_base))
