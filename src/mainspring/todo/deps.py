"""Request dependencies of the task manager: the rate limits of its routes.

Callers are ``core.auth.CurrentPrincipal``, lists take ``core.pagination`` slices and
conditional requests ``core.conditional.ConditionalDep``: the module keeps no copy of them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mainspring.core.auth import CurrentPrincipal
from mainspring.core.deps import get_settings
from mainspring.core.ratelimit import RateLimitState, get_ratelimiter, rate_limit

INVITES_PER_MINUTE = "30/minute"
"""Adding members and inviting addresses, per owner: an answer per address is never a probe."""
RESENDS_PER_HOUR = "20/hour"
"""Resending invitations, per owner (one mailbox is not flooded by a project's owners)."""

InviteLimit = rate_limit(INVITES_PER_MINUTE, by="user", scope="todo.members")
ResendLimit = rate_limit(RESENDS_PER_HOUR, by="user", scope="todo.invitations.resend")


async def export_quota(request: Request, principal: CurrentPrincipal) -> RateLimitState:
    """``MAINSPRING_TODO_EXPORT_LIMIT`` exports per user, CSV and XLSX counted together: each
    reads a whole project (and a workbook is written in a worker thread), so one user cannot
    keep the database and a CPU busy by asking again and again. 429 with ``Retry-After``.
    The handlers answer a ``Response`` of their own, which the headers set here do not reach:
    they add ``state.headers()`` (``RateLimit-*``) to it."""
    settings = await get_settings(request)
    limiter = await get_ratelimiter(request)
    return await limiter.hit(
        settings.todo_export_limit, "todo.exports", "user", str(principal.user_id), security=False
    )


ExportLimit = Annotated[RateLimitState, Depends(export_quota)]
