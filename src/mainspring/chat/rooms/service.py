"""Rooms and their members: who may see, join, invite, kick, ban and change roles.

Roles rank owner > moderator > member. Moderators and owners invite into private rooms (any
member invites into public rooms and groups), kick and ban people of a lower rank; only owners
change roles. A room keeps at least one owner. Non-members of a non-public room get 404.
Every membership change is announced after commit: on the room's channel to those connected,
and on the person's own channel, which cuts a kicked or banned member's sockets off the room
at once on every instance.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.errors import UnknownUser
from mainspring.chat import errors, models
from mainspring.chat.channels import room_channel, user_channel
from mainspring.chat.rooms import schemas
from mainspring.chat.rooms.repository import room_repository
from mainspring.chat.schemas import MAX_GROUP_MEMBERS
from mainspring.core.conditional import make_etag
from mainspring.core.db import utcnow
from mainspring.core.pagination import PageSlice
from mainspring.core.pubsub import publish_after_commit

RANK = {"member": 0, "moderator": 1, "owner": 2}


def _room_state(room: schemas.Room) -> tuple[object, ...]:
    """Everything of a room that its reader sees (``unread`` follows from ``last_seq`` and
    ``last_read_seq``): a new message, a read receipt, a member joining or leaving, a new role
    change it. It is read with the room, so a 304 saves the body, not the query."""
    return (
        room.id,
        room.name,
        room.topic,
        room.last_seq,
        room.member_count,
        room.role,
        room.last_read_seq,
    )


def room_etag(room: schemas.Room) -> str:
    """The weak ``ETag`` of a room as one reader sees it."""
    return make_etag(*_room_state(room))


def rooms_etag(rooms: Sequence[schemas.Room], total: int) -> str:
    """The weak ``ETag`` of a page of rooms: each room's state, in order, and the total."""
    return make_etag(total, *(part for room in rooms for part in _room_state(room)))


class RoomService:
    # --- reads --------------------------------------------------------------------------------

    async def get(
        self, session: AsyncSession, user_id: uuid.UUID, room_id: uuid.UUID
    ) -> schemas.Room:
        room = await room_repository.read(session, room_id, user_id)
        if room is None or (room.role is None and room.kind != "public"):
            raise errors.RoomNotFound()
        return room

    async def mine(
        self, session: AsyncSession, user_id: uuid.UUID, listing: PageSlice
    ) -> tuple[list[schemas.Room], int]:
        return await room_repository.mine(session, user_id, listing)

    async def directory(
        self, session: AsyncSession, user_id: uuid.UUID, query: str | None, listing: PageSlice
    ) -> tuple[list[schemas.Room], int]:
        return await room_repository.public(session, user_id, query, listing)

    async def members(
        self, session: AsyncSession, user_id: uuid.UUID, room_id: uuid.UUID, listing: PageSlice
    ) -> tuple[list[schemas.Member], int]:
        await self.get(session, user_id, room_id)
        return await room_repository.members(session, room_id, listing, utcnow())

    async def require_member(
        self, session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID
    ) -> models.Member:
        """The caller's membership; 404 for a room they cannot see, 403 for a public room they
        have not joined."""
        member = await room_repository.membership(session, room_id, user_id)
        if member is not None:
            return member
        room = await room_repository.get(session, room_id)
        if room is None or room.kind != "public":
            raise errors.RoomNotFound()
        if await room_repository.is_banned(session, room_id, user_id):
            raise errors.Banned()
        raise errors.NotAMember()

    async def room_ids_of(self, session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
        return await room_repository.room_ids_of(session, user_id)

    async def member_ids(self, session: AsyncSession, room_id: uuid.UUID) -> list[uuid.UUID]:
        return await room_repository.member_ids(session, room_id)

    # --- creating -----------------------------------------------------------------------------

    async def create(
        self, session: AsyncSession, user_id: uuid.UUID, data: schemas.RoomCreate
    ) -> schemas.Room:
        room = models.Room(kind=data.kind, name=data.name, topic=data.topic, created_by_id=user_id)
        session.add(room)
        await session.flush()
        self._add(session, room.id, user_id, "owner")
        await session.flush()
        return await self.get(session, user_id, room.id)

    async def direct(
        self, session: AsyncSession, user_id: uuid.UUID, username: str
    ) -> tuple[schemas.Room, bool]:
        """The conversation of the caller and ``username``, created on first use (True)."""
        other_id, other_name = await self._user(session, username, in_body=True)
        if other_id == user_id:
            raise errors.RoomKindForbids("A direct conversation needs someone else.")
        low, high = sorted((user_id, other_id), key=str)
        key = f"{low}:{high}"
        existing = await room_repository.by_direct_key(session, key)
        if existing is not None:
            return await self.get(session, user_id, existing.id), False
        me = await room_repository.username(session, user_id)
        room = models.Room(
            kind="direct",
            name=", ".join(sorted((me, other_name), key=str.lower)),
            direct_key=key,
            created_by_id=user_id,
        )
        session.add(room)
        await session.flush()
        self._add(session, room.id, user_id, "owner")
        self._add(session, room.id, other_id, "owner")
        await session.flush()
        publish_after_commit(session, user_channel(other_id), _added(room.id))
        return await self.get(session, user_id, room.id), True

    async def group(
        self, session: AsyncSession, user_id: uuid.UUID, data: schemas.GroupCreate
    ) -> schemas.Room:
        found = await room_repository.users_by_name(session, data.usernames)
        missing = [n for n in data.usernames if n.lower() not in found]
        if missing:
            raise UnknownUser(missing[0], field="body.usernames")
        others = {uid: name for uid, name in found.values() if uid != user_id}
        if not others:
            raise errors.RoomKindForbids("A group needs someone else.")
        me = await room_repository.username(session, user_id)
        name = data.name or ", ".join(sorted([me, *others.values()], key=str.lower))[:80]
        room = models.Room(kind="group", name=name, created_by_id=user_id)
        session.add(room)
        await session.flush()
        self._add(session, room.id, user_id, "owner")
        for other in others:
            self._add(session, room.id, other, "member")
            publish_after_commit(session, user_channel(other), _added(room.id))
        await session.flush()
        return await self.get(session, user_id, room.id)

    # --- membership ---------------------------------------------------------------------------

    async def join(
        self, session: AsyncSession, user_id: uuid.UUID, room_id: uuid.UUID
    ) -> schemas.Room:
        room = await room_repository.lock(session, room_id)
        if room is None:
            raise errors.RoomNotFound()
        if await room_repository.membership(session, room_id, user_id) is None:
            # Only a public room is joined by its id; any other is unseen by a non-member.
            # A member joining again (of any kind of room) is answered the room: idempotent.
            if room.kind != "public":
                raise errors.RoomNotFound()
            if await room_repository.is_banned(session, room_id, user_id):
                raise errors.Banned()
            self._add(session, room_id, user_id, "member")
            await session.flush()
            self._announce(session, room_id, user_id, "joined")
        return await self.get(session, user_id, room_id)

    async def invite(
        self, session: AsyncSession, user_id: uuid.UUID, room_id: uuid.UUID, username: str
    ) -> schemas.Member:
        room = await self._locked(session, room_id, user_id)
        actor = await self.require_member(session, room_id, user_id)
        if room.kind == "direct":
            raise errors.RoomKindForbids("A direct conversation has exactly two people.")
        if room.kind == "private" and RANK[actor.role] < RANK["moderator"]:
            raise errors.RoleForbids("Only moderators and owners invite into a private room.")
        if room.kind == "group" and await room_repository.member_count(session, room_id) >= (
            MAX_GROUP_MEMBERS
        ):
            raise errors.RoomKindForbids(f"A group has at most {MAX_GROUP_MEMBERS} members.")
        target_id, _ = await self._user(session, username, in_body=True)
        if await room_repository.membership(session, room_id, target_id) is not None:
            raise errors.AlreadyMember()
        if await room_repository.is_banned(session, room_id, target_id):
            raise errors.Banned()
        self._add(session, room_id, target_id, "member")
        await session.flush()
        self._announce(session, room_id, target_id, "joined")
        return await self._member(session, room_id, target_id)

    async def leave(self, session: AsyncSession, user_id: uuid.UUID, room_id: uuid.UUID) -> None:
        room = await self._locked(session, room_id, user_id)
        member = await self.require_member(session, room_id, user_id)
        if room.kind == "direct":
            raise errors.RoomKindForbids("A direct conversation cannot be left.")
        if (
            member.role == "owner"
            and await room_repository.owner_count(session, room_id) == 1
            and await room_repository.member_count(session, room_id) > 1
        ):
            raise errors.LastOwner()
        await room_repository.remove_member(session, room_id, user_id)
        self._announce(session, room_id, user_id, "left")

    async def kick(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        room_id: uuid.UUID,
        username: str,
        *,
        ban: bool = False,
    ) -> None:
        """Remove ``username`` from the room (and, with ``ban``, keep them out)."""
        room = await self._locked(session, room_id, user_id)
        actor = await self.require_member(session, room_id, user_id)
        if room.kind in ("direct", "group") and ban:
            raise errors.RoomKindForbids("Bans are for rooms; leave the conversation instead.")
        if RANK[actor.role] < RANK["moderator"]:
            raise errors.RoleForbids("Only moderators and owners remove people.")
        target_id, _ = await self._user(session, username)
        target = await room_repository.membership(session, room_id, target_id)
        if target_id == user_id or (target is not None and RANK[target.role] >= RANK[actor.role]):
            raise errors.RoleForbids("You can only remove people of a lower role than yours.")
        if ban:
            await room_repository.ban(session, room_id, target_id, user_id)
        removed = await room_repository.remove_member(session, room_id, target_id)
        if removed or ban:
            self._announce(session, room_id, target_id, "banned" if ban else "kicked")

    async def unban(
        self, session: AsyncSession, user_id: uuid.UUID, room_id: uuid.UUID, username: str
    ) -> None:
        await self._locked(session, room_id, user_id)
        actor = await self.require_member(session, room_id, user_id)
        if RANK[actor.role] < RANK["moderator"]:
            raise errors.RoleForbids("Only moderators and owners lift bans.")
        target_id, _ = await self._user(session, username)
        await room_repository.unban(session, room_id, target_id)

    async def set_role(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        room_id: uuid.UUID,
        username: str,
        role: str,
    ) -> schemas.Member:
        room = await self._locked(session, room_id, user_id)
        actor = await self.require_member(session, room_id, user_id)
        if actor.role != "owner" or room.kind == "direct":
            raise errors.RoleForbids("Only owners change roles.")
        target_id, _ = await self._user(session, username)
        target = await room_repository.membership(session, room_id, target_id)
        if target is None:
            raise errors.UserNotFound()
        if (
            target.role == "owner"
            and role != "owner"
            and await room_repository.owner_count(session, room_id) == 1
        ):
            raise errors.LastOwner()
        target.role = role
        await session.flush()
        self._announce(session, room_id, target_id, "role", role=role)
        return await self._member(session, room_id, target_id)

    async def mark_read(
        self, session: AsyncSession, user_id: uuid.UUID, room_id: uuid.UUID, seq: int
    ) -> None:
        """A read receipt: the caller has read up to ``seq`` (capped at the newest message)."""
        await self.require_member(session, room_id, user_id)
        room = await room_repository.get(session, room_id)
        assert room is not None
        seq = min(seq, room.last_seq)
        if await room_repository.mark_read(session, room_id, user_id, seq):
            publish_after_commit(
                session,
                room_channel(room_id),
                {"type": "read", "room_id": str(room_id), "user_id": str(user_id), "seq": seq},
            )

    # --- internals ----------------------------------------------------------------------------

    def _add(
        self, session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID, role: str
    ) -> None:
        session.add(models.Member(room_id=room_id, user_id=user_id, role=role))

    async def _locked(
        self, session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID
    ) -> models.Room:
        room = await room_repository.lock(session, room_id)
        if room is None:
            raise errors.RoomNotFound()
        return room

    async def _user(
        self, session: AsyncSession, username: str, *, in_body: bool = False
    ) -> tuple[uuid.UUID, str]:
        """The account named ``username``: 404 when the URL names nobody, 409 ``unknown-user``
        when the body does (the URL's resource exists then)."""
        found = await room_repository.users_by_name(session, [username])
        if username.lower() not in found:
            raise UnknownUser(username) if in_body else errors.UserNotFound()
        return found[username.lower()]

    async def _member(
        self, session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID
    ) -> schemas.Member:
        items, _ = await room_repository.members(
            session, room_id, PageSlice(page=1, page_size=1), utcnow(), only=user_id
        )
        return items[0]

    def _announce(
        self,
        session: AsyncSession,
        room_id: uuid.UUID,
        user_id: uuid.UUID,
        event: str,
        **extra: Any,
    ) -> None:
        """Tell the room's sockets, and the person's own sockets on every instance."""
        data = {"type": "member", "room_id": str(room_id), "user_id": str(user_id), "event": event}
        publish_after_commit(session, room_channel(room_id), {**data, **extra})
        if event == "joined":
            publish_after_commit(session, user_channel(user_id), _added(room_id))
        elif event in ("left", "kicked", "banned"):
            publish_after_commit(
                session,
                user_channel(user_id),
                {"type": "room_removed", "room_id": str(room_id), "reason": event},
            )


def _added(room_id: uuid.UUID) -> dict[str, Any]:
    return {"type": "room_added", "room_id": str(room_id)}


room_service = RoomService()
