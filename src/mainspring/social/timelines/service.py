"""Timelines: the home timeline, a user's, a hashtag's, and the trending hashtags.

Every timeline is a keyset slice ordered by ``(created_at, id)`` newest first: the cursor holds
the last item served, so posts published while a reader pages down never shift what the next
slice returns, and the tenth slice costs what the first does.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from mainspring.core.auth import Viewer
from mainspring.core.cache import Cache
from mainspring.core.db import utcnow
from mainspring.core.pagination import CursorSlice
from mainspring.social.errors import Blocked
from mainspring.social.profiles.repository import ProfileRepository
from mainspring.social.profiles.service import user_id_of
from mainspring.social.schemas import Post as PostOut
from mainspring.social.schemas import Trending
from mainspring.social.timelines.repository import TimelineRepository

TRENDING_WINDOW = timedelta(hours=24)
TRENDING_CACHE_SECONDS = 60
"""Trending hashtags are counted at most once a minute per ``limit``, whatever the traffic."""


def trending_cache_key(limit: int) -> str:
    return f"social-trending:{limit}"


class TimelineService:
    async def home(
        self,
        connection: AsyncConnection,
        viewer_id: uuid.UUID,
        listing: CursorSlice,
    ) -> tuple[list[PostOut], str | None]:
        return await TimelineRepository(connection).home(viewer_id, listing)

    async def of_user(
        self,
        session: AsyncSession,
        username: str,
        viewer: Viewer,
        listing: CursorSlice,
    ) -> tuple[list[PostOut], str | None]:
        """A user's posts; 403 for a viewer the user blocked (or who blocked the user)."""
        author_id = await user_id_of(session, username)
        viewer_id = viewer.user_id
        if viewer_id is not None and await ProfileRepository(session).blocked_either_way(
            author_id, viewer_id
        ):
            raise Blocked("A block stands between you and this user.")
        return await TimelineRepository(session).of_user(author_id, viewer_id, listing)

    async def hashtag(
        self,
        session: AsyncSession,
        tag: str,
        viewer: Viewer,
        listing: CursorSlice,
    ) -> tuple[list[PostOut], str | None]:
        return await TimelineRepository(session).hashtag(tag, viewer.user_id, listing)

    async def trending(self, session: AsyncSession, cache: Cache, limit: int) -> Trending:
        """The ``limit`` hashtags used by the most posts over the last 24 hours, cached for a
        minute (one count per minute however many clients ask; the stampede lock of the cache
        makes concurrent misses count once)."""

        async def count() -> dict[str, Any]:
            since = utcnow() - TRENDING_WINDOW
            rows = await TimelineRepository(session).trending(since, limit)
            return {
                "since": since.isoformat(),
                "items": [{"tag": tag, "posts": posts} for tag, posts in rows],
            }

        cached = await cache.get_or_set(
            trending_cache_key(limit), count, ttl=TRENDING_CACHE_SECONDS
        )
        return Trending.model_validate(cached)


timeline_service = TimelineService()
