"""``/api/v1/shop/cart`` (the caller's cart) and ``/api/v1/shop/carts`` (new guest carts).

The caller's cart is the signed-in user's; without a token, the guest cart of the
`X-Cart-Token` header. Thin handlers: parse, call the service, answer."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from mainspring.core.auth import CurrentPrincipal, OptionalPrincipal
from mainspring.core.deps import SessionDep, SettingsDep
from mainspring.core.errors import problem_responses
from mainspring.shop.cart import schemas
from mainspring.shop.cart.service import cart_service
from mainspring.shop.deps import CartToken, CartWriteLimit

router = APIRouter(tags=["shop: cart"])

CART_ERRORS = problem_responses(401, 404, 409, 422, 429)


def _user(principal: OptionalPrincipal) -> uuid.UUID | None:
    return None if principal is None else principal.user_id


@router.post(
    "/carts",
    status_code=201,
    summary="Start a guest cart",
    dependencies=[CartWriteLimit],
    responses=problem_responses(429),
)
async def create_guest_cart(session: SessionDep, settings: SettingsDep) -> schemas.GuestCart:
    """An empty cart for a visitor who has not signed in. Send its `token` as `X-Cart-Token`
    on the cart endpoints; after signing in, merge it with `POST /shop/cart/merge`."""
    return await cart_service.create_guest(session, settings)


@router.get("/cart", summary="Your cart", responses=problem_responses(401, 404))
async def get_cart(
    session: SessionDep, principal: OptionalPrincipal, token: CartToken
) -> schemas.Cart:
    """The lines with today's prices (what checkout will charge), the subtotal and whether
    each line can be bought now. A signed-in user without a cart sees an empty one."""
    return await cart_service.get(session, _user(principal), token)


@router.post(
    "/cart/lines",
    summary="Add to the cart",
    dependencies=[CartWriteLimit],
    responses=CART_ERRORS,
)
async def add_line(
    data: schemas.LineCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: OptionalPrincipal,
    token: CartToken,
) -> schemas.Cart:
    """Put a variant in the cart (a line already holding it grows). The cart's currency is
    its first product's (409 `currency-mismatch` otherwise). Answers the whole cart."""
    return await cart_service.add_line(session, settings, _user(principal), token, data)


@router.patch(
    "/cart/lines/{line_id}",
    summary="Change a quantity",
    dependencies=[CartWriteLimit],
    responses=CART_ERRORS,
)
async def update_line(
    line_id: uuid.UUID,
    data: schemas.LineUpdate,
    session: SessionDep,
    settings: SettingsDep,
    principal: OptionalPrincipal,
    token: CartToken,
) -> schemas.Cart:
    return await cart_service.update_line(session, settings, _user(principal), token, line_id, data)


@router.delete(
    "/cart/lines/{line_id}",
    status_code=204,
    summary="Remove a line",
    dependencies=[CartWriteLimit],
    responses=CART_ERRORS,
)
async def remove_line(
    line_id: uuid.UUID, session: SessionDep, principal: OptionalPrincipal, token: CartToken
) -> None:
    await cart_service.remove_line(session, _user(principal), token, line_id)


@router.post(
    "/cart/merge",
    summary="Merge a guest cart after signing in",
    dependencies=[CartWriteLimit],
    responses=CART_ERRORS,
)
async def merge_cart(
    data: schemas.CartMerge, session: SessionDep, settings: SettingsDep, principal: CurrentPrincipal
) -> schemas.Cart:
    """Call once after signing in with the guest cart's token: its lines join your cart
    (quantities add up) and the guest cart is deleted; the token is then dead (404)."""
    return await cart_service.merge(session, settings, principal.user_id, data.token)
