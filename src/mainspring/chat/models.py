"""The chat's tables: rooms, their members and bans, messages, reactions, presence.

A room's ``last_seq`` is the counter of its messages: sending takes the room's row lock and
``UPDATE ... SET last_seq = last_seq + 1 RETURNING last_seq`` in the transaction that inserts
the message, so the sequence numbers of a room are 1, 2, 3... in commit order, without gaps,
whatever the number of concurrent senders and server instances.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mainspring.core.db import Base, IdMixin, JSONDocument, TimestampMixin, utcnow

ROOM_KINDS = ("public", "private", "direct", "group")
"""``public``: listed, anyone may join. ``private``: invitation only. ``direct``: exactly two
people, one room per pair. ``group``: a small private conversation without a name."""
ROLES = ("owner", "moderator", "member")
PRESENCE_STATUSES = ("online", "away")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Room(IdMixin, TimestampMixin, Base):
    """A conversation. ``direct_key`` ("<smaller id>:<larger id>") makes a DM unique per pair."""

    __tablename__ = "chat_rooms"
    __table_args__ = (
        CheckConstraint(_in("kind", ROOM_KINDS), name="kind"),
        # The public directory, by name.
        Index("ix_chat_rooms_kind_name", "kind", "name"),
    )

    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(80), default="")
    topic: Mapped[str] = mapped_column(String(300), default="")
    direct_key: Mapped[str | None] = mapped_column(String(80), unique=True, default=None)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class Member(Base):
    """A user's place in a room: role, and how far they have read (``last_read_seq``)."""

    __tablename__ = "chat_members"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        # "My rooms" starts from the user.
        Index("ix_chat_members_user", "user_id", "room_id"),
    )

    room_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chat_rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), default="member")
    last_read_seq: Mapped[int] = mapped_column(Integer, default=0)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class Ban(Base):
    """A user banned from a room: removed, and refused when joining or invited again."""

    __tablename__ = "chat_bans"

    room_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chat_rooms.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    banned_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(IdMixin, Base):
    """A message: ``seq`` orders it in its room; ``client_id`` (chosen by the sender) makes a
    resend return the stored message instead of a duplicate. A deleted message keeps its row
    and sequence number (history has no holes) with its text cleared."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("room_id", "seq"),
        UniqueConstraint("room_id", "sender_id", "client_id"),
    )

    room_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chat_rooms.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    client_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="SET NULL"), default=None
    )
    attachments: Mapped[list[Any]] = mapped_column(JSONDocument, default=list)
    mentions: Mapped[list[Any]] = mapped_column(JSONDocument, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class Reaction(Base):
    """One user's emoji on one message."""

    __tablename__ = "chat_reactions"

    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    emoji: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Presence(Base):
    """A user connected to one server instance: ``online`` or ``away`` until ``expires_at``.

    Each instance refreshes the rows of its connected users; a user is online when any
    instance has an unexpired row for them. A crashed instance's rows simply expire."""

    __tablename__ = "chat_presence"
    __table_args__ = (
        CheckConstraint(_in("status", PRESENCE_STATUSES), name="status"),
        Index("ix_chat_presence_instance_id", "instance_id"),  # each instance's refresh
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    instance_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(8), default="online")
    expires_at: Mapped[datetime] = mapped_column()
