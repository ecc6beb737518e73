"""Shared bounds and field types of the chat's requests and responses."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from mainspring.core.schemas import SPACE, Integer

MAX_BODY_CHARS = 4000
"""A message's text, in characters (the WebSocket frame bound is ``live.protocol``'s)."""
MAX_ATTACHMENTS = 10
MAX_GROUP_MEMBERS = 20
"""A group conversation (``kind: group``) is small; larger ones are private rooms."""

MAX_SEQ = 2**31 - 1
"""The largest sequence number a room can reach (a 32-bit column): the bound of every ``seq``
a request names."""

Seq = Annotated[Integer, Field(ge=0, le=MAX_SEQ)]
"""A sequence number in a request body: a JSON integer (``5`` or ``5.0``, not ``"5"``), 0 or
more."""
HttpUrlText = Annotated[
    str,
    StringConstraints(
        max_length=2083, pattern=rf"^[{SPACE}]*[Hh][Tt][Tt][Pp][Ss]?://[^{SPACE}]+[{SPACE}]*$"
    ),
]
"""An http or https URL as the document can say it (the scheme, then no whitespace; the
spaces around it are stripped, as every ``Input`` string's are); the service
refuses the rest of what is not a URL with 400 ``invalid-attachment``."""
RoomName = Annotated[str, StringConstraints(min_length=1, max_length=80)]
GroupName = Annotated[str, StringConstraints(max_length=80)]
Topic = Annotated[str, StringConstraints(max_length=300)]
Username = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ClientId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$"),
    Field(
        description="Chosen by the sender (a UUID is fine): a resend with the same id "
        "returns the stored message instead of sending it twice."
    ),
]
Body = Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY_CHARS)]
Emoji = Annotated[str, StringConstraints(min_length=1, max_length=32)]
