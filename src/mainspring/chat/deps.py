"""Dependencies shared by the chat's routers."""

from __future__ import annotations

from typing import Any

from mainspring.core.ratelimit import rate_limit

MESSAGES_PER_MINUTE = "60/minute"
"""How many messages one person sends over HTTP in any minute (a moving window), across all
rooms: a burst of 60, then about one a second. A resend counts (it is a request) and still
returns the stored message while under the limit. The WebSocket has its own per-connection
limit (``live.socket.RATE_PER_SECOND``); HTTP is for integrations and the occasional send."""

SendingLimit: Any = rate_limit(MESSAGES_PER_MINUTE, by="user", scope="chat.messages")
"""``dependencies=[SendingLimit]``: 429 ``rate-limited`` with ``Retry-After`` past the limit."""
