"""Messages: sending (persisted, sequenced and deduplicated before anyone is told), edits,
deletions, reactions, mentions, history and search. Only members read or write a room.

Sending, in one transaction: lock the room's row, check membership (a kicked or banned person
is refused from that commit on), return the stored message if the sender already sent this
``client_id`` (a resend after a lost acknowledgement), else take the next sequence number
(``UPDATE chat_rooms SET last_seq = last_seq + 1 ... RETURNING``) and insert. The live
``message`` event is published after the commit, so an acknowledged or broadcast message is
always in the database, and a rolled-back one is never announced.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import HttpUrl, TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.chat import errors, models
from mainspring.chat.channels import room_channel, user_channel
from mainspring.chat.messages import schemas
from mainspring.chat.messages.repository import message_repository
from mainspring.chat.rooms.repository import room_repository
from mainspring.chat.rooms.service import RANK, room_service
from mainspring.core.db import utcnow
from mainspring.core.errors import BadRequest
from mainspring.core.markdown import render_markdown
from mainspring.core.pagination import CursorSlice
from mainspring.core.pubsub import publish_after_commit

MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_.-]{1,64})")
MAX_MENTIONS = 20
SEARCH_WORD = re.compile(r"\w+")
MAX_SEARCH_WORDS = 8


HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _attachment(attachment: schemas.AttachmentIn) -> dict[str, str]:
    """The attachment as stored, its URL normalised; 400 for a URL of the published shape
    that is still not one (the document says ``https?://`` and no spaces; this says the rest)."""
    try:
        url = str(HTTP_URL.validate_python(attachment.url))
    except ValidationError:
        raise errors.InvalidAttachment(attachment.url) from None
    return {"url": url, "name": attachment.name, "content_type": attachment.content_type}


def _event(kind: str, message: schemas.Message) -> dict[str, Any]:
    return {"type": kind, "message": message.model_dump(mode="json")}


class MessageService:
    async def send(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        room_id: uuid.UUID,
        data: schemas.MessageCreate,
    ) -> tuple[schemas.Message, bool]:
        """The stored message, and True when this call created it (False: a resend)."""
        room = await room_repository.lock(session, room_id)
        if room is None:
            raise errors.RoomNotFound()
        await room_service.require_member(session, room_id, user_id)
        existing = await message_repository.by_client_id(session, room_id, user_id, data.client_id)
        if existing is not None:
            stored = await message_repository.read(session, existing)
            assert stored is not None
            return stored, False
        if data.reply_to_id is not None:
            replied = await message_repository.get(session, data.reply_to_id)
            if replied is None or replied.room_id != room_id:
                raise errors.InvalidReply()
        mentioned = await self._mentions(session, room_id, user_id, data.body)
        seq = await message_repository.next_seq(session, room_id)
        message = models.Message(
            room_id=room_id,
            seq=seq,
            sender_id=user_id,
            client_id=data.client_id,
            body=data.body,
            body_html=render_markdown(data.body),
            reply_to_id=data.reply_to_id,
            attachments=[_attachment(a) for a in data.attachments],
            mentions=[name for _, name in mentioned],
        )
        session.add(message)
        await session.flush()
        await room_repository.mark_read(session, room_id, user_id, seq)  # one's own is read
        stored = await message_repository.read(session, message.id)
        assert stored is not None
        publish_after_commit(session, room_channel(room_id), _event("message", stored))
        for mentioned_id, _ in mentioned:
            publish_after_commit(session, user_channel(mentioned_id), _event("mention", stored))
        return stored, True

    async def _mentions(
        self, session: AsyncSession, room_id: uuid.UUID, user_id: uuid.UUID, body: str
    ) -> list[tuple[uuid.UUID, str]]:
        """The members of the room named with ``@username`` in ``body`` (not the sender)."""
        names = list(dict.fromkeys(MENTION.findall(body)))[:MAX_MENTIONS]
        found = await room_repository.users_by_name(session, names)
        members = set(await room_repository.member_ids(session, room_id)) if found else set()
        return [(uid, name) for uid, name in found.values() if uid in members and uid != user_id]

    async def history(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        room_id: uuid.UUID,
        *,
        before: int | None,
        after: int | None,
        limit: int,
    ) -> schemas.History:
        await room_service.require_member(session, room_id, user_id)
        items, has_more = await message_repository.history(
            session, room_id, before=before, after=after, limit=limit
        )
        return schemas.History(items=items, has_more=has_more)

    async def get(
        self, session: AsyncSession, user_id: uuid.UUID, room_id: uuid.UUID, message_id: uuid.UUID
    ) -> schemas.Message:
        await room_service.require_member(session, room_id, user_id)
        message = await message_repository.read(session, message_id)
        if message is None or message.room_id != room_id:
            raise errors.MessageNotFound()
        return message

    async def edit(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        room_id: uuid.UUID,
        message_id: uuid.UUID,
        body: str,
    ) -> schemas.Message:
        """Own messages only; a deleted message cannot be edited."""
        message = await self._load(session, user_id, room_id, message_id)
        if message.sender_id != user_id:
            raise errors.RoleForbids("You can only edit your own messages.")
        message.body = body
        message.body_html = render_markdown(body)
        message.edited_at = utcnow()
        await session.flush()
        stored = await message_repository.read(session, message_id)
        assert stored is not None
        publish_after_commit(session, room_channel(room_id), _event("edit", stored))
        return stored

    async def delete(
        self, session: AsyncSession, user_id: uuid.UUID, room_id: uuid.UUID, message_id: uuid.UUID
    ) -> None:
        """Own messages, or anyone's for moderators and owners. The row keeps its ``seq``."""
        member = await room_service.require_member(session, room_id, user_id)
        message = await self._load(session, user_id, room_id, message_id)
        if message.sender_id != user_id and RANK[member.role] < RANK["moderator"]:
            raise errors.RoleForbids("Only moderators and owners delete others' messages.")
        message.deleted_at = utcnow()
        message.body = message.body_html = ""
        message.attachments = []
        message.mentions = []
        publish_after_commit(
            session,
            room_channel(room_id),
            {
                "type": "delete",
                "room_id": str(room_id),
                "message_id": str(message_id),
                "seq": message.seq,
            },
        )

    async def react(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        room_id: uuid.UUID,
        message_id: uuid.UUID,
        emoji: str,
        *,
        on: bool,
    ) -> None:
        """Add (``on``) or remove the caller's ``emoji``; idempotent both ways."""
        await self._load(session, user_id, room_id, message_id)
        if on:
            changed = await message_repository.react(session, message_id, user_id, emoji)
        else:
            changed = await message_repository.unreact(session, message_id, user_id, emoji)
        if changed:
            publish_after_commit(
                session,
                room_channel(room_id),
                {
                    "type": "reaction",
                    "room_id": str(room_id),
                    "message_id": str(message_id),
                    "user_id": str(user_id),
                    "username": await room_repository.username(session, user_id),
                    "emoji": emoji,
                    "on": on,
                },
            )

    async def search(
        self, session: AsyncSession, user_id: uuid.UUID, query: str, listing: CursorSlice
    ) -> tuple[list[schemas.Message], str | None]:
        """Messages containing every word of ``query``, in the rooms the caller belongs to,
        newest first."""
        words = SEARCH_WORD.findall(query)[:MAX_SEARCH_WORDS]
        room_ids = await room_repository.room_ids_of(session, user_id)
        if not words or not room_ids:
            return [], None
        after = listing.after()
        if after is not None and len(after) != 2:
            raise BadRequest("The cursor does not belong to this list.")
        items = await message_repository.search(
            session,
            room_ids,
            words,
            after=tuple(after) if after else None,
            limit=listing.limit,
        )
        next_cursor = None
        if len(items) > listing.limit:
            items = items[: listing.limit]
            next_cursor = listing.cursor_for([items[-1].created_at, items[-1].id])
        return items, next_cursor

    async def _load(
        self, session: AsyncSession, user_id: uuid.UUID, room_id: uuid.UUID, message_id: uuid.UUID
    ) -> models.Message:
        await room_service.require_member(session, room_id, user_id)
        message = await message_repository.get(session, message_id)
        if message is None or message.room_id != room_id or message.deleted_at is not None:
            raise errors.MessageNotFound()
        return message


message_service = MessageService()
