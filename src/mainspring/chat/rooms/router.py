"""``/api/v1/chat/rooms``: rooms, direct messages, groups and their members. Thin handlers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from mainspring.chat.rooms import schemas
from mainspring.chat.rooms.service import room_etag, room_service, rooms_etag
from mainspring.chat.schemas import Username
from mainspring.core.auth import CurrentPrincipal
from mainspring.core.conditional import NOT_MODIFIED, ConditionalDep
from mainspring.core.deps import ReadSessionDep, SessionDep
from mainspring.core.errors import problem_responses
from mainspring.core.pagination import PageSliceDep
from mainspring.core.schemas import Page

router = APIRouter(prefix="/chat/rooms", tags=["chat: rooms"])


def _location(request: Request, response: Response, room_id: uuid.UUID) -> None:
    response.headers["Location"] = str(request.app.url_path_for("get_room", room_id=room_id))


@router.get(
    "",
    summary="List your rooms",
    response_model=Page[schemas.Room],
    responses={**NOT_MODIFIED, **problem_responses(401)},
)
async def list_rooms(
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    listing: PageSliceDep,
    conditional: ConditionalDep,
) -> Page[schemas.Room] | Response:
    """The rooms, groups and direct conversations you belong to, by name, each with your role
    and your unread count (messages after your read mark). With an `ETag`: poll with
    `If-None-Match` for a 304 while no room of the page changed (no new message, read mark,
    member or role)."""
    items, total = await room_service.mine(session, principal.user_id, listing)
    page = listing.respond(items, total)
    if conditional.fresh(rooms_etag(items, total)):
        return conditional.not_modified()
    return page


@router.get("/public", summary="The directory of public rooms", responses=problem_responses(401))
async def list_public_rooms(
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    listing: PageSliceDep,
    q: Annotated[str | None, Query(max_length=80, description="Part of the name.")] = None,
) -> Page[schemas.Room]:
    """Public rooms anyone may join (`POST /chat/rooms/{id}/join`), by name."""
    items, total = await room_service.directory(session, principal.user_id, q, listing)
    return listing.respond(items, total)


@router.post("", status_code=201, summary="Create a room", responses=problem_responses(401))
async def create_room(
    data: schemas.RoomCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> schemas.Room:
    """A public or private room; you are its owner."""
    room = await room_service.create(session, principal.user_id, data)
    _location(request, response, room.id)
    return room


@router.post(
    "/direct",
    status_code=201,
    summary="Open a direct conversation",
    responses={
        **problem_responses(401, 409),
        200: {"description": "The conversation already existed."},
    },
)
async def open_direct(
    data: schemas.DirectCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> schemas.Room:
    """The one conversation between you and `username`: 201 when it is created, 200 when it
    already existed (either of you may have opened it)."""
    room, created = await room_service.direct(session, principal.user_id, data.username)
    if not created:
        response.status_code = 200
    _location(request, response, room.id)
    return room


@router.post(
    "/groups",
    status_code=201,
    summary="Start a group conversation",
    responses=problem_responses(401, 409),
)
async def create_group(
    data: schemas.GroupCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> schemas.Room:
    """A small private conversation (at most 20 people) with the people named; you own it."""
    room = await room_service.group(session, principal.user_id, data)
    _location(request, response, room.id)
    return room


@router.get(
    "/{room_id}",
    summary="Get a room",
    response_model=schemas.Room,
    responses={**NOT_MODIFIED, **problem_responses(401, 404)},
)
async def get_room(
    room_id: uuid.UUID,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    conditional: ConditionalDep,
) -> schemas.Room | Response:
    """A room you belong to, or any public room (404 otherwise). With an `ETag`: send it
    back in `If-None-Match` for a 304 while nothing you see of the room changed."""
    room = await room_service.get(session, principal.user_id, room_id)
    if conditional.fresh(room_etag(room)):
        return conditional.not_modified()
    return room


@router.post(
    "/{room_id}/join", summary="Join a public room", responses=problem_responses(401, 403, 404)
)
async def join_room(
    room_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> schemas.Room:
    """Idempotent. 403 `banned` for a person banned from the room; 404 for a non-public room."""
    return await room_service.join(session, principal.user_id, room_id)


@router.post(
    "/{room_id}/leave",
    status_code=204,
    summary="Leave a room",
    responses=problem_responses(401, 403, 404, 409),
)
async def leave_room(room_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> None:
    """The last owner of a room with other members must hand ownership over first (409);
    a direct conversation cannot be left (409)."""
    await room_service.leave(session, principal.user_id, room_id)


@router.post(
    "/{room_id}/read",
    status_code=204,
    summary="Mark messages read (a read receipt)",
    responses=problem_responses(401, 403, 404),
)
async def mark_read(
    room_id: uuid.UUID,
    data: schemas.ReadReceipt,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> None:
    """Moves your read mark forward to `seq` (never back); the room's members see a `read`
    event. Your unread count is the room's `last_seq` minus your mark."""
    await room_service.mark_read(session, principal.user_id, room_id, data.seq)


@router.get(
    "/{room_id}/members", summary="List a room's members", responses=problem_responses(401, 404)
)
async def list_members(
    room_id: uuid.UUID, session: ReadSessionDep, principal: CurrentPrincipal, listing: PageSliceDep
) -> Page[schemas.Member]:
    """By time of joining, each with role, read mark and presence (online, away, offline)."""
    items, total = await room_service.members(session, principal.user_id, room_id, listing)
    return listing.respond(items, total)


@router.post(
    "/{room_id}/members",
    status_code=201,
    summary="Invite someone into a room",
    responses=problem_responses(401, 403, 404, 409),
)
async def invite_member(
    room_id: uuid.UUID,
    data: schemas.MemberAdd,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> schemas.Member:
    """Adds `username` as a member: moderators and owners of a private room, any member of a
    public room or group. 403 `banned` for a banned person (lift the ban first)."""
    return await room_service.invite(session, principal.user_id, room_id, data.username)


@router.patch(
    "/{room_id}/members/{username}",
    summary="Change a member's role",
    responses=problem_responses(401, 403, 404, 409),
)
async def update_member(
    room_id: uuid.UUID,
    username: Username,
    data: schemas.MemberUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> schemas.Member:
    """Owners only. A room keeps at least one owner (409 `last-owner`)."""
    return await room_service.set_role(session, principal.user_id, room_id, username, data.role)


@router.delete(
    "/{room_id}/members/{username}",
    status_code=204,
    summary="Kick a member",
    responses=problem_responses(401, 403, 404),
)
async def kick_member(
    room_id: uuid.UUID, username: Username, session: SessionDep, principal: CurrentPrincipal
) -> None:
    """Moderators and owners remove people of a lower role. Their open sockets stop receiving
    the room at once; they may join a public room again (ban them to keep them out)."""
    await room_service.kick(session, principal.user_id, room_id, username)


@router.put(
    "/{room_id}/bans/{username}",
    status_code=204,
    summary="Ban someone from a room",
    responses=problem_responses(401, 403, 404, 409),
)
async def ban_member(
    room_id: uuid.UUID, username: Username, session: SessionDep, principal: CurrentPrincipal
) -> None:
    """Removes them (if a member) and refuses their joining, invitation and sending until the
    ban is lifted. Their sockets are cut off the room at once, on every instance."""
    await room_service.kick(session, principal.user_id, room_id, username, ban=True)


@router.delete(
    "/{room_id}/bans/{username}",
    status_code=204,
    summary="Lift a ban",
    responses=problem_responses(401, 403, 404),
)
async def unban_member(
    room_id: uuid.UUID, username: Username, session: SessionDep, principal: CurrentPrincipal
) -> None:
    """Idempotent. They may join (public) or be invited again."""
    await room_service.unban(session, principal.user_id, room_id, username)
