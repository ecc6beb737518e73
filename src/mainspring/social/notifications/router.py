"""``/api/v1/notifications``: the list, the unread count, marking read, and the live WebSocket."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from mainspring.core.auth import CurrentPrincipal
from mainspring.core.deps import CursorSliceDep, ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.schemas import CursorPage
from mainspring.social.notifications.live import notifications_socket
from mainspring.social.notifications.service import notification_service
from mainspring.social.schemas import MarkedRead, Notification, UnreadCount

router = APIRouter(prefix="/notifications", tags=["social: notifications"])
router.add_api_websocket_route("/ws", notifications_socket, name="notifications_socket")


@router.get("", summary="Your notifications", responses=problem_responses(400, 401))
async def list_notifications(
    session: ReadSessionDep,
    listing: CursorSliceDep,
    principal: CurrentPrincipal,
    unread: Annotated[bool, Query(description="Only the unread ones.")] = False,
) -> CursorPage[Notification]:
    """Newest first, keyset-paginated. Kinds: `follow`, `like`, `reply`, `mention`, `repost`,
    `quote`, `article_comment`. The same notifications arrive live on
    `/api/v1/notifications/ws`."""
    items, next_cursor = await notification_service.page(
        session, principal.user_id, unread_only=unread, listing=listing
    )
    return listing.respond(items, next_cursor)


@router.get(
    "/unread-count", summary="How many notifications are unread", responses=problem_responses(401)
)
async def unread_count(session: ReadSessionDep, principal: CurrentPrincipal) -> UnreadCount:
    """The badge count."""
    return UnreadCount(count=await notification_service.unread_count(session, principal.user_id))


@router.post("/read", summary="Mark every notification read", responses=problem_responses(401))
async def mark_all_read(session: SessionDep, principal: CurrentPrincipal) -> MarkedRead:
    """Answers how many were unread."""
    return MarkedRead(marked=await notification_service.mark_all_read(session, principal.user_id))


@router.post(
    "/{notification_id}/read",
    status_code=204,
    summary="Mark a notification read",
    responses=problem_responses(401, 404),
)
async def mark_read(
    notification_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> None:
    """Idempotent. 404 for a notification that is not yours."""
    await notification_service.mark_read(session, principal.user_id, notification_id)
