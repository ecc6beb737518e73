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

Around that slice, the same statement joins what its posts show (``posts/repository.py``):
one statement in all.
``docs/architecture.md`` ("Social: timelines") gives the measurements behind fan-out on read
and where the balance would tip towards fan-out on write.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, bindparam, func, select, true, tuple_

from mainspring.core.db import Reader, dialect_of
from mainspring.core.pagination import CursorSlice, SortKey
from mainspring.social.models import Follow, Post, PostHashtag
from mainspring.social.posts.repository import (
    NEWEST_FIRST,
    VIEWER,
    candidates,
    ordered,
    page_select,
    post_page,
    run_page,
    visible_to,
)
from mainspring.social.schemas import Post as PostOut

SIZE = bindparam("size", type_=Integer)
AFTER = tuple_(
    bindparam("after_created_at", type_=Post.created_at.type),
    bindparam("after_id", type_=Post.id.type),
)


@functools.cache
def home_select(lateral: bool, after: bool) -> Select[Any]:
    """The home timeline's one statement, in the form for its database (``lateral`` on
    PostgreSQL) and with or without a cursor, built once: every value in it is a bound
    parameter (``viewer_id``, ``size``, ``after_created_at``, ``after_id``), so a request
    neither builds the statement again nor has SQLAlchemy compute its cache key again (both
    cost more CPU than the database spends answering it)."""
    authors = (
        select(Follow.followee_id.label("author_id"))
        .where(Follow.follower_id == VIEWER)
        .union_all(select(VIEWER))
    )
    newest = ordered(NEWEST_FIRST, Post.created_at, Post.id)
    if not lateral:
        slice_ = candidates().where(Post.author_id.in_(authors), *visible_to(VIEWER))
        if after:
            slice_ = slice_.where(tuple_(Post.created_at, Post.id) < AFTER)
        page = slice_.order_by(*newest).limit(SIZE).subquery("page")
        return page_select(page, VIEWER, NEWEST_FIRST)
    by_author = authors.subquery("authors")
    recent = candidates().where(Post.author_id == by_author.c.author_id, *visible_to(VIEWER))
    if after:
        recent = recent.where(tuple_(Post.created_at, Post.id) < AFTER)
    per_author = recent.order_by(*newest).limit(SIZE).lateral("recent")
    page = (
        select(per_author.c.id, per_author.c.created_at)
        .select_from(by_author)
        .join(per_author, true())
        .order_by(*ordered(NEWEST_FIRST, per_author.c.created_at, per_author.c.id))
        .limit(SIZE)
        .subquery("page")
    )
    return page_select(page, VIEWER, NEWEST_FIRST)


class TimelineRepository:
    def __init__(self, session: Reader) -> None:
        self.session = session

    async def home(
        self, viewer_id: uuid.UUID, listing: CursorSlice
    ) -> tuple[list[PostOut], str | None]:
        """Posts, replies, quotes and reposts by the viewer and the users the viewer follows,
        in one statement (``home_select``). On PostgreSQL the keyset condition and the limit
        go inside each author's ``LATERAL`` range; the newest ``limit + 1`` of those are the
        slice."""
        lateral = dialect_of(self.session) == "postgresql"
        parameters = listing.bound("after_created_at", "after_id")
        stmt = home_select(lateral, "after_id" in parameters)
        return await run_page(self.session, stmt, listing, {**parameters, "viewer_id": viewer_id})

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
