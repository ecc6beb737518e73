"""Request and response bodies of projects and their members."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import Field

from mainspring.core.schemas import Flag, Input, Patch, Schema
from mainspring.todo.invitations.schemas import Email
from mainspring.todo.roles import Role

ProjectName = Annotated[str, Field(min_length=1, max_length=120, examples=["Website relaunch"])]
ProjectDescription = Annotated[
    str, Field(max_length=2000, examples=["Everything we ship for the new site."])
]


class ProjectCreate(Input):
    name: ProjectName
    description: ProjectDescription = ""


class ProjectUpdate(Patch):
    """Merge semantics: only the fields sent change; none of them may be ``null``."""

    not_null: ClassVar[tuple[str, ...]] = ("name", "description", "archived")
    name: ProjectName | None = None
    description: ProjectDescription | None = None
    archived: Flag | None = Field(None, examples=[True])


class Project(Schema):
    id: uuid.UUID
    name: str
    description: str
    archived: bool
    is_inbox: bool = Field(description="The caller's personal inbox (one per user).")
    role: Role = Field(description="The caller's role in this project.")
    created_at: datetime
    updated_at: datetime


class MemberInvite(Input):
    """Add a registered user by ``username``, or invite an ``email`` address: exactly one."""

    username: str | None = Field(None, min_length=1, max_length=64, examples=["ada"])
    email: Email | None = Field(
        None,
        description="Invites the address (202): the answer never says whether it has an account.",
    )
    role: Role = Field(Role.EDITOR, examples=["editor"])

    exactly_one_of: ClassVar[tuple[str, ...]] = ("username", "email")


class MemberUpdate(Input):
    role: Role = Field(examples=["viewer"])


class Member(Schema):
    user_id: uuid.UUID
    username: str
    role: Role
    joined_at: datetime
