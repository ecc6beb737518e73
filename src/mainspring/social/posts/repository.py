"""Queries of posts, likes and reposts, and how every list of posts is read.

A slice of posts is **one** statement, whatever its size, built in two layers:

1. the *slice*: ``SELECT posts.id, posts.created_at`` with the list's filter, the viewer's
   visibility rule, the keyset condition, the order and ``LIMIT n + 1``, answered from the
   list's index alone (the block rule reads two columns of the same index entries), so the
   database stops as soon as it has the slice (see ``docs/architecture.md``, "Social:
   timelines");
2. around it, ``display_select``: for the slice's ids only, the post, its author, the post it
   quotes or reposts (``original``) with that post's author, the counters, and the viewer's
   ``liked`` and ``reposted`` flags for both (``EXISTS`` on primary keys).

The slice is a subquery with its own ``LIMIT``, which neither SQLite nor PostgreSQL merges
into the outer joins: the display columns are joined to the n + 1 rows of the slice, never to
every candidate. (Written as one flat query, the outer join to ``original`` made both
databases join every candidate before sorting: 300 ms per home timeline slice on 100 000
posts. Written as two statements, it cost a second round trip per request.)
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from pydantic import TypeAdapter
from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    bindparam,
    delete,
    exists,
    false,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from mainspring.accounts.models import User
from mainspring.core.db import Reader, dialect_of
from mainspring.core.errors import BadRequest
from mainspring.core.pagination import CursorSlice, SortKey
from mainspring.social.models import Like, Post, PostHashtag, ProfileDetails
from mainspring.social.profiles.repository import blocked_with, insert_ignoring_duplicates
from mainspring.social.schemas import Post as PostOut

API_PREFIX = "/api/v1"

Original = aliased(Post, name="original")
"""The post a quote quotes or a repost reposts, joined to the post that points at it."""
_Author = aliased(User, name="post_author")
_AuthorDetails = aliased(ProfileDetails, name="post_author_details")
_OriginalAuthor = aliased(User, name="original_author")
_OriginalDetails = aliased(ProfileDetails, name="original_author_details")
_ViewerRepost = aliased(Post, name="viewer_repost")

KEYSET_COLUMNS: tuple[Any, ...] = (Post.id, Post.created_at)
NEWEST_FIRST = (SortKey(Post.created_at), SortKey(Post.id))
OLDEST_FIRST = (SortKey(Post.created_at, descending=False), SortKey(Post.id, descending=False))


def candidates() -> Select[Any]:
    """The first statement of a slice: the columns its keyset needs, nothing more."""
    return select(*KEYSET_COLUMNS)


def visible_to(viewer_id: Any) -> list[ColumnElement[bool]]:
    """The conditions a post meets to be shown to ``viewer_id``.

    A block hides, both ways, the other user's posts and the reposts and quotes of them: a
    blocked user does not see the blocker's posts, nor a user those of whom they blocked. Both
    columns tested are in the timeline index, and the set of users on the other side of the
    viewer's blocks is computed once per statement (``NOT IN`` a subquery), so the rule filters
    candidates without keeping the database from reading the index in order.
    """
    if viewer_id is None:
        return []
    hidden = blocked_with(viewer_id)
    return [
        Post.author_id.not_in(hidden),
        or_(Post.original_author_id.is_(None), Post.original_author_id.not_in(hidden)),
    ]


def _liked(post: Any, viewer_id: Any) -> ColumnElement[bool]:
    if viewer_id is None:
        return false()
    return exists().where(Like.post_id == post.id, Like.user_id == viewer_id)


def _reposted(post: Any, viewer_id: Any) -> ColumnElement[bool]:
    if viewer_id is None:
        return false()
    return exists().where(
        _ViewerRepost.repost_of_id == post.id, _ViewerRepost.author_id == viewer_id
    )


def _post_columns(post: Any, user: Any, details: Any, viewer_id: Any) -> list[Any]:
    """The columns of one ``PostFields``, in the order ``_fields`` reads them."""
    return [
        post.id,
        post.kind,
        post.body,
        post.entities,
        post.reply_to_id,
        post.like_count,
        post.reply_count,
        post.repost_count,
        post.quote_count,
        post.created_at,
        user.username,
        user.display_name,
        details.image,
        _liked(post, viewer_id),
        _reposted(post, viewer_id),
    ]


_WIDTH = 15
"""Columns per post in a display row: the post's, then its original's."""
_CREATED_AT = 9
"""The position of ``created_at`` in a display row (``id`` is first)."""


def display_select(viewer_id: Any, page: Subquery | None = None) -> Select[Any]:
    """Everything a post shows, as ``viewer_id`` sees it, for the posts of ``page`` (a slice
    subquery with an ``id`` column) or those the caller's ``WHERE`` chooses. Columns only (no
    ORM entity): a row is the post's ``_WIDTH`` columns, then its original's."""
    stmt = select(
        *_post_columns(Post, _Author, _AuthorDetails, viewer_id),
        *_post_columns(Original, _OriginalAuthor, _OriginalDetails, viewer_id),
    )
    if page is not None:
        stmt = stmt.select_from(page).join(Post, Post.id == page.c.id)
    return (
        stmt.join(_Author, _Author.id == Post.author_id)
        .outerjoin(_AuthorDetails, _AuthorDetails.user_id == Post.author_id)
        .outerjoin(Original, Original.id == func.coalesce(Post.repost_of_id, Post.quote_of_id))
        .outerjoin(_OriginalAuthor, _OriginalAuthor.id == Original.author_id)
        .outerjoin(_OriginalDetails, _OriginalDetails.user_id == Original.author_id)
    )


@functools.lru_cache(maxsize=4096)
def _hashtag_href(tag: str) -> str:
    """A hashtag's link: the same popular tags come on every page, and quoting one each time
    cost more than the lookup."""
    return f"{API_PREFIX}/hashtags/{quote(tag)}/posts"


def entities_of(entities: dict[str, Any]) -> list[dict[str, Any]]:
    """The stored hashtags and mentions as links (``TextEntity`` fields), in order of
    appearance."""
    links = [
        {
            "kind": "hashtag",
            "start": item["start"],
            "end": item["end"],
            "value": item["value"],
            "href": _hashtag_href(item["value"]),
        }
        for item in entities.get("hashtags", ())
    ]
    links += [
        {
            "kind": "mention",
            "start": item["start"],
            "end": item["end"],
            "value": item["value"],
            "href": f"{API_PREFIX}/profiles/{item['value']}",
        }
        for item in entities.get("mentions", ())
    ]
    links.sort(key=lambda link: link["start"])
    return links


def _fields(row: Sequence[Any]) -> dict[str, Any]:
    """The ``PostFields`` of ``_WIDTH`` columns of a display row."""
    (
        id_,
        kind,
        body,
        entities,
        reply_to_id,
        like_count,
        reply_count,
        repost_count,
        quote_count,
        created_at,
        username,
        display_name,
        image,
        liked,
        reposted,
    ) = row
    return {
        "id": id_,
        "kind": kind,
        "author": {"username": username, "display_name": display_name, "image": image},
        "body": body,
        "entities": entities_of(entities) if entities else [],
        "reply_to_id": reply_to_id,
        "like_count": like_count,
        "reply_count": reply_count,
        "repost_count": repost_count,
        "quote_count": quote_count,
        "liked": bool(liked),
        "reposted": bool(reposted),
        "created_at": created_at,
    }


def _post_fields(row: Row[Any]) -> dict[str, Any]:
    """A row of ``display_select`` as the response model's fields."""
    fields = _fields(row[:_WIDTH])
    fields["original"] = None if row[_WIDTH] is None else _fields(row[_WIDTH:])
    return fields


def to_post(row: Row[Any]) -> PostOut:
    """A row of ``display_select`` as the response model, validated once."""
    return PostOut.model_validate(_post_fields(row))


_POSTS = TypeAdapter(list[PostOut])
"""A page's posts, validated in one call (not one call a post)."""


VIEWER = bindparam("viewer_id", type_=Post.author_id.type)
"""The reader, in statements built once (``view_select``, the home timeline's)."""
POST_ID = bindparam("post_id", type_=Post.id.type)


@functools.cache
def view_select(*, signed_in: bool) -> Select[Any]:
    """One post for display, built once per kind of reader with bound parameters
    (``post_id``, ``viewer_id``): the hottest single read neither builds its statement nor has
    SQLAlchemy compute the statement's cache key on every request."""
    viewer = VIEWER if signed_in else None
    return display_select(viewer).where(Post.id == POST_ID, *visible_to(viewer))


def after_cursor(keys: Sequence[SortKey], listing: CursorSlice) -> ColumnElement[bool] | None:
    """The keyset condition "strictly after the cursor" in the order of ``keys`` (all in one
    direction, as every list of posts is), or None without a cursor; 400 for a cursor of
    another list."""
    after = listing.after()
    if after is None:
        return None
    if len(after) != len(keys):
        raise BadRequest("The cursor does not belong to this list.")
    columns = tuple_(*(key.column for key in keys))
    return columns < tuple_(*after) if keys[0].descending else columns > tuple_(*after)


def ordered(keys: Sequence[SortKey], *columns: Any) -> list[Any]:
    """``ORDER BY`` terms for ``columns`` in the directions of ``keys``."""
    return [
        column.desc() if key.descending else column.asc()
        for key, column in zip(keys, columns, strict=True)
    ]


def page_select(page: Subquery, viewer_id: Any, keys: Sequence[SortKey]) -> Select[Any]:
    """The display statement of the slice ``page`` (``id``, ``created_at``, at most ``limit +
    1`` rows, already ordered by ``keys``); ``viewer_id`` may be a bound parameter."""
    return display_select(viewer_id, page).order_by(*ordered(keys, page.c.created_at, page.c.id))


async def run_page(
    reader: Reader,
    stmt: Select[Any],
    listing: CursorSlice,
    parameters: dict[str, Any] | None = None,
) -> tuple[list[PostOut], str | None]:
    """Run a ``page_select`` statement: the posts of the slice and the next cursor when a row
    is left over."""
    rows = (await reader.execute(stmt, parameters)).all()
    next_cursor = None
    if len(rows) > listing.limit:
        rows = rows[: listing.limit]
        last = rows[-1]
        next_cursor = listing.cursor_for([last[_CREATED_AT], last[0]])
    return _POSTS.validate_python([_post_fields(row) for row in rows]), next_cursor


async def post_page(
    reader: Reader,
    stmt: Select[Any],
    viewer_id: uuid.UUID | None,
    listing: CursorSlice,
    *,
    keys: Sequence[SortKey] = NEWEST_FIRST,
) -> tuple[list[PostOut], str | None]:
    """One keyset slice of ``stmt`` (``candidates()`` with the list's filter and, usually,
    ``visible_to(viewer_id)``), loaded for the viewer in one statement (module docstring).
    ``keys`` are the list's order, whose values are a post's ``(created_at, id)``."""
    condition = after_cursor(keys, listing)
    if condition is not None:
        stmt = stmt.where(condition)
    columns = (key.column for key in keys)
    page = stmt.order_by(*ordered(keys, *columns)).limit(listing.limit + 1).subquery("page")
    return await run_page(reader, page_select(page, viewer_id, keys), listing)


class PostRepository:
    """Posts, likes, reposts and hashtags of the request's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, post_id: uuid.UUID) -> Post | None:
        return await self.session.get(Post, post_id)

    async def view(self, post_id: uuid.UUID, viewer_id: uuid.UUID | None) -> PostOut | None:
        """The post as the viewer sees it (None when it does not exist or a block hides it)."""
        stmt = view_select(signed_in=viewer_id is not None)
        parameters = {"post_id": post_id, "viewer_id": viewer_id}
        row = (await self.session.execute(stmt, parameters)).first()
        return None if row is None else to_post(row)

    async def replies(
        self,
        post_id: uuid.UUID,
        viewer_id: uuid.UUID | None,
        listing: CursorSlice,
    ) -> tuple[list[PostOut], str | None]:
        """Direct replies, oldest first: a thread reads top-down
        (``ix_posts_reply_to_id_created_at``)."""
        stmt = candidates().where(Post.reply_to_id == post_id, *visible_to(viewer_id))
        return await post_page(self.session, stmt, viewer_id, listing, keys=OLDEST_FIRST)

    async def add(self, post: Post, tags: list[str]) -> Post:
        """Insert the post and its hashtags; flushed, so that its id is known."""
        self.session.add(post)
        await self.session.flush()
        if tags:
            self.session.add_all(
                PostHashtag(post_id=post.id, tag=tag, created_at=post.created_at) for tag in tags
            )
            await self.session.flush()
        return post

    async def delete(self, post: Post) -> None:
        """Delete the post; the database removes its reposts, likes and hashtags (``CASCADE``)
        and unlinks replies and quotes (``SET NULL``)."""
        await self.session.execute(delete(Post).where(Post.id == post.id))

    async def change_count(self, post_id: uuid.UUID, counter: str, delta: int) -> None:
        """``UPDATE posts SET <counter> = <counter> + delta``: atomic, however many requests
        like the same post at once; it never goes below zero."""
        column = getattr(Post, counter)
        value = column + delta
        if delta < 0:  # the two-argument maximum is GREATEST on PostgreSQL, MAX on SQLite
            postgres = dialect_of(self.session) == "postgresql"
            value = (func.greatest if postgres else func.max)(value, 0)
        await self.session.execute(
            update(Post)
            .where(Post.id == post_id)
            .values({counter: value})
            .execution_options(synchronize_session=False)
        )

    async def like(self, post_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        """Record the like; False when it already existed."""
        stmt = insert_ignoring_duplicates(self.session, Like).values(
            post_id=post_id, user_id=user_id
        )
        result: Any = await self.session.execute(stmt)
        return bool(result.rowcount)

    async def unlike(self, post_id: uuid.UUID, user_id: uuid.UUID) -> bool:
        stmt = delete(Like).where(Like.post_id == post_id, Like.user_id == user_id)
        result: Any = await self.session.execute(stmt)
        return bool(result.rowcount)

    async def repost_of(self, post_id: uuid.UUID, user_id: uuid.UUID) -> Post | None:
        """``user_id``'s repost of ``post_id``, if any (the unique constraint's index)."""
        stmt = select(Post).where(Post.repost_of_id == post_id, Post.author_id == user_id)
        return await self.session.scalar(stmt)
