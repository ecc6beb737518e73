"""Request and response bodies of comments."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from mainspring.core.schemas import Input, Schema
from mainspring.todo.tasks.schemas import UserRef


class CommentCreate(Input):
    body: str = Field(
        min_length=1,
        max_length=10_000,
        description="Markdown; rendered (raw HTML off) and sanitised into `body_html`.",
        examples=["Looks good, **ship it**."],
    )


class CommentUpdate(CommentCreate):
    pass


class Comment(Schema):
    id: uuid.UUID
    task_id: uuid.UUID
    author: UserRef | None = Field(description="Null once the author's account is gone.")
    body: str
    body_html: str
    created_at: datetime
    updated_at: datetime
