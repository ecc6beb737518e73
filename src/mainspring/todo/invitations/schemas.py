"""Request and response bodies of project invitations."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field

from mainspring.core.schemas import SPACE, Input, Schema
from mainspring.todo.roles import Role
from mainspring.todo.tasks.schemas import UserRef

_NOT_IN_EMAIL = rf"@{SPACE}\u0130"
"""Not in an address: a second "@" or a space, spelled out (``SPACE``) rather than ``\\s``,
which means other characters in the document's ECMA 262 (U+FEFF, not U+0085) than in
pydantic's Rust regex; nor U+0130 (capital I with dot), the one character that lower-cases to
two (``"i\u0307"``), so an address within ``maxLength`` could be stored longer than its column.
The published pattern and the server's check then accept exactly the same strings."""

Email = Annotated[
    str,
    Field(
        max_length=254,
        pattern=rf"^[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]+\.[^{_NOT_IN_EMAIL}]+$",
        examples=["ada@example.com"],
    ),
    AfterValidator(str.lower),
]


class InvitationStatus(StrEnum):
    PENDING = "pending"
    EXPIRED = "expired"
    ACCEPTED = "accepted"
    REVOKED = "revoked"


class InvitationCreate(Input):
    """Invite an e-mail address, whether or not it has an account (the answer is the same)."""

    email: Email
    role: Role = Field(Role.EDITOR, examples=["editor"])


class InvitationAccept(Input):
    token: str = Field(
        min_length=20,
        max_length=100,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The `token` of the link in the invitation mail.",
        examples=["m2Vq3...Zk"],
    )


class Invitation(Schema):
    """An invitation as the project's owners see it. It names the address, never an account."""

    id: uuid.UUID
    project_id: uuid.UUID
    email: str = Field(examples=["ada@example.com"])
    role: Role
    status: InvitationStatus = Field(
        description="`pending` until accepted, revoked or past `expires_at` (`expired`)."
    )
    invited_by: UserRef | None = Field(description="Null once the inviter's account is gone.")
    created_at: datetime
    sent_at: datetime = Field(description="When the newest link was mailed.")
    sends: int = Field(ge=1, description="How many times a link was mailed.")
    expires_at: datetime
