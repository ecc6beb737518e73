"""Dependencies of the social module's routes.

Conditional requests use the kernel's ``ConditionalDep`` (``core/conditional.py``) with the
``ETag`` each service computes (``post_etag``, ``profile_etag``); the viewer is the kernel's
``ViewerDep``, and lists take ``CursorSliceDep``. What stays here is the module's own limit.
"""

from __future__ import annotations

from typing import Any

from mainspring.core.ratelimit import rate_limit

POSTS_PER_MINUTE = "30/minute"
"""How many posts (replies and quotes included) one user writes a minute."""

PostingLimit: Any = rate_limit(POSTS_PER_MINUTE, by="user", scope="social.posts")
"""``dependencies=[PostingLimit]``: at most ``POSTS_PER_MINUTE`` posts per user (429 after)."""
