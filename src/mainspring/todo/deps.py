"""Request dependencies of the task manager: the rate-limit aliases of its routes.

Callers are ``core.auth.CurrentPrincipal``, lists take ``core.pagination`` slices and
conditional requests ``core.conditional.ConditionalDep``: the module keeps no copy of them.
"""

from __future__ import annotations

from mainspring.core.ratelimit import rate_limit

INVITES_PER_MINUTE = "30/minute"
"""Adding members and inviting addresses, per owner: an answer per address is never a probe."""
RESENDS_PER_HOUR = "20/hour"
"""Resending invitations, per owner (one mailbox is not flooded by a project's owners)."""

InviteLimit = rate_limit(INVITES_PER_MINUTE, by="user", scope="todo.members")
ResendLimit = rate_limit(RESENDS_PER_HOUR, by="user", scope="todo.invitations.resend")
