"""Request and response bodies of a project's board columns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field

from mainspring.core.schemas import Input, Patch, Schema

MAX_COLUMNS = 50
"""A board holds at most this many columns, archived ones included: the list is one page."""

ColumnName = Annotated[str, Field(min_length=1, max_length=60, examples=["Review"])]
Colour = Annotated[
    str,
    Field(pattern=r"^#[0-9a-fA-F]{6}$", description="`#rrggbb`.", examples=["#f59e0b"]),
    AfterValidator(str.lower),
]
WipLimit = Annotated[
    int,
    Field(
        ge=1,
        le=10_000,
        description="At most this many tasks in the column; a task entering a full column is "
        "refused with 409 `wip-limit-reached`.",
        examples=[3],
    ),
]
ColumnPosition = Annotated[
    int, Field(ge=0, le=1_000, description="Index on the board, from 0.", examples=[1])
]


class ColumnCreate(Input):
    name: ColumnName
    colour: Colour = "#64748b"
    wip_limit: WipLimit | None = Field(None, description="Default: unbounded.")
    is_done: bool = Field(
        False, description="Tasks here count as done (completion, reminders, overdue)."
    )
    position: ColumnPosition | None = Field(None, description="Default: last.")


class ColumnUpdate(Patch):
    """Merge semantics: only the fields sent change; ``null`` clears ``wip_limit``; the other
    fields cannot be ``null``. ``archived: true`` archives the column (it accepts no new task;
    its tasks stay), ``false`` restores it; ``position`` moves it on the board."""

    not_null: ClassVar[tuple[str, ...]] = ("name", "colour", "is_done", "position", "archived")

    name: ColumnName | None = None
    colour: Colour | None = None
    wip_limit: WipLimit | None = Field(None, description="`null` removes the limit.")
    is_done: bool | None = Field(None, examples=[True])
    position: ColumnPosition | None = None
    archived: bool | None = Field(None, examples=[True])


class Column(Schema):
    """A column of a project's board."""

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    position: int = Field(description="Index on the board (archived columns keep theirs).")
    colour: str = Field(examples=["#2563eb"])
    wip_limit: int | None = Field(description="At most this many tasks; null: unbounded.")
    is_done: bool = Field(description="Tasks here count as done.")
    archived_at: datetime | None = Field(description="Set while archived: it takes no new task.")
    task_count: int = Field(ge=0, description="Tasks in the column now.")
    created_at: datetime
    updated_at: datetime
