"""Request dependencies of the shop: who is staff, the guest-cart token, rate-limit aliases.

Staff are the accounts roles ``moderator`` and ``admin`` (``core.auth.Role``): they manage the
catalogue, coupons and orders; everyone browses. Callers are ``core.auth.CurrentPrincipal``,
lists take ``core.pagination`` slices: the module keeps no copy of them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from mainspring.core.auth import Principal, require_role
from mainspring.core.ratelimit import rate_limit
from mainspring.shop.roles import STAFF_ROLE

Staff = Annotated[Principal, Depends(require_role(STAFF_ROLE))]
"""A signed-in caller with a staff role (401 without a token, 403 for customers)."""

CART_TOKEN_HEADER = "X-Cart-Token"  # noqa: S105 - a header name, not a secret

CART_WRITES_PER_MINUTE = "120/minute"
"""Cart changes per user (or per address for guests): generous for people, a wall for bots."""
CHECKOUTS_PER_MINUTE = "10/minute"
"""Checkouts and payment attempts per user: each one reserves stock, so they are scarce."""

CartWriteLimit = rate_limit(CART_WRITES_PER_MINUTE, by="user", scope="shop.cart")
CheckoutLimit = rate_limit(CHECKOUTS_PER_MINUTE, by="user", scope="shop.checkout")


async def cart_token(
    x_cart_token: Annotated[
        str | None,
        Header(
            alias=CART_TOKEN_HEADER,
            min_length=20,
            max_length=100,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="A guest cart's token, from `POST /api/v1/shop/carts`.",
        ),
    ] = None,
) -> str | None:
    return x_cart_token


CartToken = Annotated[str | None, Depends(cart_token)]
