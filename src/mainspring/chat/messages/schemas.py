"""Requests and responses of the messages: ``/api/v1/chat/rooms/{id}/messages`` and search.
The same ``Message`` object travels in the WebSocket's ``ack`` and ``message`` events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from mainspring.chat.schemas import MAX_ATTACHMENTS, Body, ClientId, HttpUrlText
from mainspring.core.schemas import Input, Schema


class Attachment(Schema):
    """A file stored elsewhere, by URL (http or https). Mainspring does not fetch it."""

    url: str
    name: str = ""
    content_type: str = ""


class AttachmentIn(Input):
    url: HttpUrlText = Field(
        description="http or https, at most 2083 characters; 400 `invalid-attachment` if it "
        "has the shape but is not a URL (no host, a bad port).",
        examples=["https://example.com/plan.pdf"],
    )
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    content_type: Annotated[str, StringConstraints(max_length=100)] = ""


class MessageCreate(Input):
    client_id: ClientId
    body: Body = Field(
        description="Markdown (rendered and sanitised into `body_html`).",
        examples=["Hello **@ada**!"],
    )
    reply_to_id: uuid.UUID | None = Field(None, description="A message of the same room.")
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=MAX_ATTACHMENTS)


class MessageUpdate(Input):
    body: Body


class Sender(Schema):
    id: uuid.UUID | None
    username: str


class ReactionCount(Schema):
    emoji: str
    count: int
    usernames: list[str]


class Message(Schema):
    """A message as history, search, acks and live events show it. A deleted message keeps
    its place (``seq``) with ``deleted: true`` and empty text."""

    id: uuid.UUID
    room_id: uuid.UUID
    seq: int
    client_id: str
    sender: Sender
    body: str
    body_html: str
    reply_to_id: uuid.UUID | None
    attachments: list[Attachment]
    mentions: list[str]
    reactions: list[ReactionCount]
    created_at: datetime
    edited_at: datetime | None
    deleted: bool


class History(Schema):
    """A slice of a room's history in ascending ``seq``; ``has_more`` says whether more lie
    beyond it in the direction asked (older for `before`, newer for `after`)."""

    items: list[Message]
    has_more: bool
