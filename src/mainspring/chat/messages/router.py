"""``/api/v1/chat/rooms/{id}/messages`` and ``/api/v1/chat/search``. Thin handlers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from mainspring.chat.deps import SendingLimit
from mainspring.chat.messages import schemas
from mainspring.chat.messages.service import message_service
from mainspring.chat.schemas import MAX_SEQ
from mainspring.core.auth import CurrentPrincipal
from mainspring.core.deps import ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.pagination import CursorSliceDep
from mainspring.core.schemas import CursorPage

router = APIRouter(prefix="/chat", tags=["chat: messages"])

Emoji = Annotated[str, Path(min_length=1, max_length=32)]


@router.get(
    "/rooms/{room_id}/messages",
    summary="Read a room's history",
    responses=problem_responses(401, 403, 404),
)
async def history(
    room_id: uuid.UUID,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    before: Annotated[
        int | None,
        Query(ge=1, le=MAX_SEQ, description="Messages with a smaller `seq` (unless `after`)."),
    ] = None,
    after: Annotated[
        int | None,
        Query(ge=0, le=MAX_SEQ, description="Messages with a larger `seq`; wins over `before`."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> schemas.History:
    """Keyset-paginated by sequence number, always in ascending `seq`. Without `before` or
    `after`: the newest `limit`. Scroll back with `before=<smallest seq shown>`; catch up with
    `after=<largest seq seen>` (what a reconnecting client missed). Members only."""
    return await message_service.history(
        session, principal.user_id, room_id, before=before, after=after, limit=limit
    )


@router.post(
    "/rooms/{room_id}/messages",
    status_code=201,
    summary="Send a message",
    responses={
        **problem_responses(400, 401, 403, 404, 409, 429),
        200: {"description": "A resend: the message stored for this `client_id`, unchanged."},
        201: {"description": "Stored with the room's next `seq`, then broadcast."},
    },
    dependencies=[SendingLimit],
)
async def send_message(
    room_id: uuid.UUID,
    data: schemas.MessageCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> schemas.Message:
    """Stored with the room's next sequence number, then broadcast to the room.

    **Idempotent by `client_id`** (no `Idempotency-Key` needed): a resend with a `client_id`
    you already used in this room answers **200** with the message stored the first time,
    whatever the body says, and broadcasts nothing; the first send answers **201**. So a
    client that lost the answer resends the same request. `@username` of a member mentions
    (notifies) them. 409 `invalid-reply` when `reply_to_id` is not a message of this room;
    400 `invalid-attachment` for an attachment URL that is not one; 429 past
    60 messages a minute (the WebSocket has its own limit)."""
    message, created = await message_service.send(session, principal.user_id, room_id, data)
    if not created:
        response.status_code = 200
    response.headers["Location"] = str(
        request.app.url_path_for("get_message", room_id=room_id, message_id=message.id)
    )
    return message


@router.get(
    "/rooms/{room_id}/messages/{message_id}",
    summary="Get a message",
    responses=problem_responses(401, 403, 404),
)
async def get_message(
    room_id: uuid.UUID, message_id: uuid.UUID, session: ReadSessionDep, principal: CurrentPrincipal
) -> schemas.Message:
    return await message_service.get(session, principal.user_id, room_id, message_id)


@router.patch(
    "/rooms/{room_id}/messages/{message_id}",
    summary="Edit your message",
    responses=problem_responses(401, 403, 404),
)
async def edit_message(
    room_id: uuid.UUID,
    message_id: uuid.UUID,
    data: schemas.MessageUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> schemas.Message:
    """Your own messages only; the room sees an `edit` event."""
    return await message_service.edit(session, principal.user_id, room_id, message_id, data.body)


@router.delete(
    "/rooms/{room_id}/messages/{message_id}",
    status_code=204,
    summary="Delete a message",
    responses=problem_responses(401, 403, 404),
)
async def delete_message(
    room_id: uuid.UUID, message_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> None:
    """Your own, or anyone's for moderators and owners. It keeps its place in history as
    `deleted: true` without its text; the room sees a `delete` event."""
    await message_service.delete(session, principal.user_id, room_id, message_id)


@router.put(
    "/rooms/{room_id}/messages/{message_id}/reactions/{emoji}",
    status_code=204,
    summary="React to a message",
    responses=problem_responses(401, 403, 404),
)
async def add_reaction(
    room_id: uuid.UUID,
    message_id: uuid.UUID,
    emoji: Emoji,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> None:
    """Idempotent; the room sees a `reaction` event with `on: true`."""
    await message_service.react(session, principal.user_id, room_id, message_id, emoji, on=True)


@router.delete(
    "/rooms/{room_id}/messages/{message_id}/reactions/{emoji}",
    status_code=204,
    summary="Remove your reaction",
    responses=problem_responses(401, 403, 404),
)
async def remove_reaction(
    room_id: uuid.UUID,
    message_id: uuid.UUID,
    emoji: Emoji,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> None:
    """Idempotent; the room sees a `reaction` event with `on: false`."""
    await message_service.react(session, principal.user_id, room_id, message_id, emoji, on=False)


@router.get("/search", summary="Search your rooms' messages", responses=problem_responses(400, 401))
async def search(
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    listing: CursorSliceDep,
    q: Annotated[str, Query(min_length=1, max_length=200, description="Words, all required.")],
) -> CursorPage[schemas.Message]:
    """Messages containing every word of `q` (case-insensitive substrings), in the rooms you
    belong to, newest first."""
    items, next_cursor = await message_service.search(session, principal.user_id, q, listing)
    return listing.respond(items, next_cursor)
