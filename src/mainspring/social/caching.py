"""The social graph's cache tags: what other modules key a reader's own answers on.

A reader's feed (the blog's ``GET /api/v1/articles/feed``, the RealWorld adapter's) depends on
whom the reader follows, so its entries (``cached_answers.lookup_own``) carry the reader's
``following_tag``. Every write of the graph goes through ``FollowService`` and ``BlockService``
(``profiles/service.py``), which invalidate it after the commit:

- a follow that was not there, an unfollow that removed one: the follower's tag;
- a block (it ends the follows between the two users, both ways): both users' tags.

Seeds write follows directly: what they change is seen after the entries' TTL.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.cache_commit import invalidate_after_commit


def following_tag(user_id: uuid.UUID) -> str:
    """The tag of whom ``user_id`` follows."""
    return f"social:following:{user_id}"


def following_changed(session: AsyncSession, *user_ids: uuid.UUID) -> None:
    """After ``session`` commits: whom ``user_ids`` follow has changed."""
    invalidate_after_commit(session, *(following_tag(user_id) for user_id in user_ids))
