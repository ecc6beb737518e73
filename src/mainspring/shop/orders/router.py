"""``/api/v1/shop/orders``: checkout, a customer's orders, transitions; and
``/api/v1/shop/staff/orders``: every order, for staff. Thin handlers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from mainspring.core.auth import CurrentPrincipal
from mainspring.core.conditional import NOT_MODIFIED, ConditionalDep, make_etag
from mainspring.core.deps import ReadSessionDep, SessionDep, SettingsDep
from mainspring.core.errors import problem_responses
from mainspring.core.idempotency import IdempotentRoute, idempotent
from mainspring.core.pagination import PageSliceDep
from mainspring.core.schemas import DateTime, Page
from mainspring.shop.deps import CheckoutLimit, Staff
from mainspring.shop.models import ORDER_STATUSES
from mainspring.shop.orders import schemas
from mainspring.shop.orders.service import order_service

router = APIRouter(tags=["shop: orders"], route_class=IdempotentRoute)

OrderStatus = Annotated[
    str | None, Query(pattern="^(" + "|".join(ORDER_STATUSES) + ")$", description="A status.")
]


def order_etag(order: schemas.Order) -> str:
    return make_etag(order.version)


@router.post(
    "/orders",
    status_code=201,
    summary="Check out: turn your cart into an order",
    dependencies=[Depends(idempotent(required=True)), CheckoutLimit],
    responses=problem_responses(401, 404, 409, 422, 429),
)
async def checkout(
    data: schemas.CheckoutCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> schemas.Order:
    """Your cart becomes an order at today's prices, its units reserved, in one transaction:
    409 `out-of-stock` if any line cannot be served (nothing is reserved then), 409
    `coupon-invalid` for a spent or expired coupon. `Idempotency-Key` is required: a retry with
    the same key answers the same order. Pay before `reserved_until`."""
    order = await order_service.checkout(session, settings, principal.user_id, data)
    response.headers["Location"] = str(request.app.url_path_for("get_order", order_id=order.id))
    response.headers["ETag"] = order_etag(order)
    return order


@router.get("/orders", summary="Your orders", responses=problem_responses(401))
async def list_my_orders(
    session: ReadSessionDep, principal: CurrentPrincipal, listing: PageSliceDep
) -> Page[schemas.OrderSummary]:
    """Your orders, newest first."""
    items, total = await order_service.mine(session, principal.user_id, listing)
    return listing.respond(items, total)


@router.get(
    "/orders/{order_id}",
    response_model=schemas.Order,
    summary="Get an order",
    responses={**NOT_MODIFIED, **problem_responses(401, 404)},
)
async def get_order(
    order_id: uuid.UUID,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
) -> schemas.Order | Response:
    """One of your orders (staff: any order); someone else's is 404."""
    order = await order_service.get(session, principal, order_id)
    if conditional.fresh(order_etag(order)):
        return conditional.not_modified()
    return order


@router.post(
    "/orders/{order_id}/transitions",
    summary="Move an order along its state machine",
    responses=problem_responses(401, 404, 409, 422),
)
async def transition_order(
    order_id: uuid.UUID,
    data: schemas.TransitionCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> schemas.Order:
    """Staff: `fulfilled`, `shipped` (mails the customer), `delivered`, `cancelled`. A customer
    may cancel their own unpaid order. Any other move is 409 `illegal-transition`; payment and
    refunds make `paid` and `refunded`."""
    return await order_service.transition(session, principal, order_id, data.to)


@router.get("/staff/orders", summary="All orders (staff)", responses=problem_responses(401, 403))
async def list_all_orders(
    session: ReadSessionDep,
    staff: Staff,
    listing: PageSliceDep,
    status: OrderStatus = None,
    user_id: Annotated[uuid.UUID | None, Query(description="One customer's orders.")] = None,
    since: Annotated[DateTime | None, Query(description="Created at or after.")] = None,
    until: Annotated[DateTime | None, Query(description="Created before.")] = None,
) -> Page[schemas.OrderSummary]:
    items, total = await order_service.all(
        session, listing, status=status, user_id=user_id, since=since, until=until
    )
    return listing.respond(items, total)
