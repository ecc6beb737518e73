"""Timeline queries: home, a user's, a hashtag's, and the trending hashtags.

The home timeline is **fanned out on read**: computed when asked, from the posts of the viewer
and of the users the viewer follows, newest first, after the cursor. Nothing is written when a
post is created. Each database gets the form it runs best, both reading only
``ix_posts_author_id_created_at`` (author, time, id, original author) and stopping early:

- SQLite: ``WHERE author_id IN (<followees>, :me) ORDER BY created_at DESC, id DESC LIMIT n``.
  SQLite walks each author's index range newest first and stops each as soon as it can no
  longer reach the slice.
- PostgreSQL does not stop early on that form: it reads every post of every followed author,
  then sorts (70-200 ms on 100 000 posts). It gets ``LATERAL``: for each author, the ``n``
  newest posts after the cursor (an index range scan with ``LIMIT``), and the newest ``n`` of
  those; at most ``n`` rows per followed author are read, however long their history.

Then the slice's posts are loaded for display (``posts/repository.py``: two statements in all).
``docs/architecture.md`` ("Social: timelines") gives the measurements behind fan-out on read
and where the balance would tip towards fan-out on write.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Subquery, func, literal, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.errors import BadRequest
from mainspring.core.pagination import CursorSlice, SortKey
from mainspring.social.models import Follow, Post, PostHashtag
from mainspring.social.posts.repository import (
    NEWEST_FIRST,
    candidates,
    load_posts,
    post_page,
    visible_to,
)
from mainspring.social.schemas import Post as PostOut


class TimelineRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def home(
        self, viewer_id: uuid.UUID, listing: CursorSlice
    ) -> tuple[list[PostOut], str | None]:
        """Posts, replies, quotes and reposts by the viewer and the users the viewer follows."""
        authors = (
            select(Follow.followee_id.label("author_id"))
            .where(Follow.follower_id == viewer_id)
            .union_all(select(literal(viewer_id, Follow.followee_id.type)))
        )
        if self.session.get_bind().dialect.name != "postgresql":
            stmt = candidates().where(Post.author_id.in_(authors), *visible_to(viewer_id))
            return await post_page(self.session, stmt, viewer_id, listing)
        return await self._home_by_author(authors.subquery("authors"), viewer_id, listing)

    async def _home_by_author(
        self,
        authors: Subquery,
        viewer_id: uuid.UUID,
        listing: CursorSlice,
    ) -> tuple[list[PostOut], str | None]:
        """The PostgreSQL form: the keyset condition and the limit go inside each author's
        ``LATERAL`` range, so the cursor is applied here rather than by ``keyset_page``."""
        recent = candidates().where(Post.author_id == authors.c.author_id, *visible_to(viewer_id))
        after = listing.after()
        if after is not None:
            if len(after) != len(NEWEST_FIRST):
                raise BadRequest("The cursor does not belong to this list.")
            recent = recent.where(tuple_(Post.created_at, Post.id) < tuple_(*after))
        newest = recent.order_by(Post.created_at.desc(), Post.id.desc()).limit(listing.limit + 1)
        per_author = newest.lateral("recent")
        stmt = (
            select(per_author.c.id, per_author.c.created_at)
            .select_from(authors)
            .join(per_author, true())
            .order_by(per_author.c.created_at.desc(), per_author.c.id.desc())
            .limit(listing.limit + 1)
        )
        rows = (await self.session.execute(stmt)).all()
        page = rows[: listing.limit]
        next_cursor = None
        if len(rows) > listing.limit:
            next_cursor = listing.cursor_for([page[-1].created_at, page[-1].id])
        return await load_posts(self.session, [row.id for row in page], viewer_id), next_cursor

    async def of_user(
        self,
        author_id: uuid.UUID,
        viewer_id: uuid.UUID | None,
        listing: CursorSlice,
    ) -> tuple[list[PostOut], str | None]:
        """What one user wrote and reposted, newest first (``ix_posts_author_id_created_at``)."""
        stmt = candidates().where(Post.author_id == author_id, *visible_to(viewer_id))
        return await post_page(self.session, stmt, viewer_id, listing)

    async def hashtag(
        self,
        tag: str,
        viewer_id: uuid.UUID | None,
        listing: CursorSlice,
    ) -> tuple[list[PostOut], str | None]:
        """Posts with ``#tag``, newest first. The order is that of the tag's own index
        (``ix_post_hashtags_tag_created_at``: tag, time, post), joined to the posts it names."""
        stmt = (
            candidates()
            .join(PostHashtag, PostHashtag.post_id == Post.id)
            .where(PostHashtag.tag == tag.casefold(), *visible_to(viewer_id))
        )
        keys = [SortKey(PostHashtag.created_at), SortKey(PostHashtag.post_id)]
        return await post_page(self.session, stmt, viewer_id, listing, keys=keys)

    async def trending(self, since: datetime, limit: int) -> list[tuple[str, int]]:
        """The hashtags used by the most posts since ``since``, with their counts.

        One range scan of ``ix_post_hashtags_created_at`` and a ``GROUP BY``: its cost grows
        with the day's volume of tagged posts, which is why the service caches the answer.
        """
        posts = func.count().label("posts")
        stmt = (
            select(PostHashtag.tag, posts)
            .where(PostHashtag.created_at >= since)
            .group_by(PostHashtag.tag)
            .order_by(posts.desc(), PostHashtag.tag)
            .limit(limit)
        )
        rows: Any = (await self.session.execute(stmt)).all()
        return [(tag, int(count)) for tag, count in rows]
