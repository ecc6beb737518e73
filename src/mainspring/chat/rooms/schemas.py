"""Requests and responses of ``/api/v1/chat/rooms``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from mainspring.chat.schemas import (
    MAX_GROUP_MEMBERS,
    GroupName,
    RoomName,
    Seq,
    Topic,
    Username,
)
from mainspring.core.schemas import Input, Schema

Role = Literal["owner", "moderator", "member"]
Kind = Literal["public", "private", "direct", "group"]
PresenceStatus = Literal["online", "away", "offline"]


class RoomCreate(Input):
    kind: Literal["public", "private"] = Field(
        "public", description="`public`: listed, anyone may join. `private`: by invitation."
    )
    name: RoomName = Field(examples=["general"])
    topic: Topic = Field("", examples=["Anything goes"])


class DirectCreate(Input):
    username: Username = Field(description="The other person. One conversation per pair.")


class GroupCreate(Input):
    name: GroupName = Field("", description="Optional; members see each other's names otherwise.")
    usernames: list[Username] = Field(
        min_length=1,
        max_length=MAX_GROUP_MEMBERS - 1,
        description=f"The others (you are added as owner); at most {MAX_GROUP_MEMBERS} in all.",
    )


class Room(Schema):
    """A room as its member (or a visitor of a public room) sees it. ``role`` is null and
    ``unread`` 0 for a non-member; ``last_seq`` is the sequence number of its newest message."""

    id: uuid.UUID
    kind: Kind
    name: str
    topic: str
    last_seq: int
    member_count: int
    role: Role | None
    unread: int
    last_read_seq: int
    created_at: datetime


class MemberAdd(Input):
    username: Username


class MemberUpdate(Input):
    role: Role


class ReadReceipt(Input):
    seq: Seq = Field(description="The newest sequence number you have read.", examples=[42])


class Member(Schema):
    user_id: uuid.UUID
    username: str
    display_name: str
    role: Role
    last_read_seq: int
    joined_at: datetime
    presence: PresenceStatus
