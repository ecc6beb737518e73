"""Request dependencies of the task manager: the caller and the conditional-request headers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from mainspring.core.auth import CurrentPrincipal

Caller = CurrentPrincipal
"""The authenticated caller (401 otherwise); services receive ``caller.user_id``."""

IfMatch = Annotated[
    str | None,
    Header(
        max_length=200,
        description="The task's ETag as last read (`*`: whatever its version). A stale one "
        "answers 412.",
        examples=['"3"'],
    ),
]
IfNoneMatch = Annotated[
    str | None,
    Header(
        max_length=200,
        description="The ETag of your copy: 304 without a body when it is still current.",
        examples=['"3"'],
    ),
]
