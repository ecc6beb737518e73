"""Carts: one per signed-in user, and guest carts held by an opaque token.

A guest cart is created by ``POST /shop/carts``; its token (shown once, stored as a SHA-256)
goes in the `X-Cart-Token` header. After signing in, the client calls
``POST /shop/cart/merge`` with the token: the guest lines join the user's cart and the guest
cart is gone. (The accounts login flow has no hook a module can register, and accounts may not
import the shop, so the merge is an explicit call: the client knows when it has just signed
in and still holds the token.)

A cart keeps variant ids and quantities, never prices: what it shows, and what checkout
charges, is today's price from the catalogue. A cart expires ``shop_cart_ttl_days`` after its
last change; expired carts are ignored and purged by a schedule (``background.py``).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.config import Settings
from mainspring.core.db import utcnow
from mainspring.core.errors import Unauthorized
from mainspring.shop.cart import repository, schemas
from mainspring.shop.errors import (
    CartLineNotFound,
    CartNotFound,
    CartTooLarge,
    CurrencyMismatch,
    UnknownVariant,
)
from mainspring.shop.models import Cart

MAX_QUANTITY = 99


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _empty() -> schemas.Cart:
    return schemas.Cart.model_construct(
        id=None, currency=None, lines=[], item_count=0, subtotal=0, expires_at=None
    )


class CartService:
    def _expiry(self, settings: Settings) -> timedelta:
        return timedelta(days=settings.shop_cart_ttl_days)

    async def _find(
        self, session: AsyncSession, user_id: uuid.UUID | None, token: str | None
    ) -> Cart | None:
        """The caller's live cart: the user's when signed in, else the guest token's."""
        if user_id is not None:
            cart = await repository.by_user(session, user_id)
        elif token is not None:
            cart = await repository.by_token_hash(session, token_hash(token))
            if cart is None or cart.expires_at <= utcnow():
                raise CartNotFound
        else:
            raise Unauthorized("Sign in, or send a guest cart's X-Cart-Token.")
        if cart is not None and cart.expires_at <= utcnow():
            await repository.clear(session, cart.id)
        return cart

    async def _writable(
        self,
        session: AsyncSession,
        settings: Settings,
        user_id: uuid.UUID | None,
        token: str | None,
    ) -> Cart:
        cart = await self._find(session, user_id, token)
        expires_at = utcnow() + self._expiry(settings)
        if cart is None:
            assert user_id is not None  # a guest without a cart was refused by _find
            cart = await repository.ensure_user_cart(session, user_id, expires_at)
        else:
            await repository.touch(session, cart.id, expires_at)
        return cart

    async def view(self, session: AsyncSession, cart: Cart | None) -> schemas.Cart:
        if cart is None:
            return _empty()
        lines = await repository.lines(session, cart.id)
        await session.refresh(cart, ["expires_at"])
        return schemas.Cart.model_construct(
            id=cart.id,
            currency=lines[0].currency if lines else None,
            lines=lines,
            item_count=sum(line.quantity for line in lines),
            subtotal=sum(line.line_total for line in lines),
            expires_at=cart.expires_at,
        )

    async def get(
        self, session: AsyncSession, user_id: uuid.UUID | None, token: str | None
    ) -> schemas.Cart:
        return await self.view(session, await self._find(session, user_id, token))

    async def create_guest(self, session: AsyncSession, settings: Settings) -> schemas.GuestCart:
        token = secrets.token_urlsafe(32)
        cart = Cart(token_hash=token_hash(token), expires_at=utcnow() + self._expiry(settings))
        session.add(cart)
        await session.flush()
        return schemas.GuestCart.model_construct(token=token, cart=await self.view(session, cart))

    async def add_line(
        self,
        session: AsyncSession,
        settings: Settings,
        user_id: uuid.UUID | None,
        token: str | None,
        data: schemas.LineCreate,
    ) -> schemas.Cart:
        found = await repository.sellable_variant(session, data.variant_id)
        if found is None:
            raise UnknownVariant
        _, currency = found
        cart = await self._writable(session, settings, user_id, token)
        currencies = await repository.line_currencies(session, cart.id)
        if currencies and currency not in currencies:
            raise CurrencyMismatch(
                f"Your cart is in {min(currencies)}; this product is sold in {currency}."
            )
        if await repository.line_count(session, cart.id) >= schemas.MAX_LINES:
            raise CartTooLarge(f"A cart holds at most {schemas.MAX_LINES} different products.")
        await repository.add_quantity(
            session, cart.id, data.variant_id, data.quantity, MAX_QUANTITY
        )
        return await self.view(session, cart)

    async def update_line(
        self,
        session: AsyncSession,
        settings: Settings,
        user_id: uuid.UUID | None,
        token: str | None,
        line_id: uuid.UUID,
        data: schemas.LineUpdate,
    ) -> schemas.Cart:
        cart = await self._find(session, user_id, token)
        line = None if cart is None else await repository.line(session, cart.id, line_id)
        if cart is None or line is None:
            raise CartLineNotFound
        line.quantity = data.quantity
        await session.flush()
        await repository.touch(session, cart.id, utcnow() + self._expiry(settings))
        return await self.view(session, cart)

    async def remove_line(
        self,
        session: AsyncSession,
        user_id: uuid.UUID | None,
        token: str | None,
        line_id: uuid.UUID,
    ) -> None:
        cart = await self._find(session, user_id, token)
        line = None if cart is None else await repository.line(session, cart.id, line_id)
        if line is None:
            raise CartLineNotFound
        await session.delete(line)
        await session.flush()

    async def merge(
        self, session: AsyncSession, settings: Settings, user_id: uuid.UUID, token: str
    ) -> schemas.Cart:
        """Move a guest cart's lines into the user's cart; the guest cart is deleted."""
        guest = await repository.by_token_hash(session, token_hash(token))
        if guest is None or guest.expires_at <= utcnow():
            raise CartNotFound
        cart = await self._writable(session, settings, user_id, None)
        guest_currencies = await repository.line_currencies(session, guest.id)
        mine = await repository.line_currencies(session, cart.id)
        if guest_currencies and mine and guest_currencies != mine:
            raise CurrencyMismatch("The guest cart is in another currency than your cart.")
        await repository.merge(session, guest.id, cart.id, MAX_QUANTITY)
        return await self.view(session, cart)

    async def clear(self, session: AsyncSession, cart_id: uuid.UUID) -> None:
        await repository.clear(session, cart_id)

    async def purge_expired(self, session: AsyncSession) -> int:
        return await repository.delete_expired(session, utcnow())


cart_service = CartService()
