"""Queries of profiles, follows and blocks.

A profile is read in **one** statement whatever it shows: the user's columns, the profile
details (outer join), the three counts as correlated ``COUNT`` subqueries (each an index range
scan: ``ix_follows_followee_id_created_at``, the follows primary key,
``ix_posts_author_id_created_at``) and the viewer's flags as ``EXISTS`` on primary keys. A list
of profiles (followers, following) is the same select joined to ``follows``, so a page of 100
profiles is still one statement.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    delete,
    exists,
    false,
    func,
    or_,
    select,
)
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from mainspring.accounts.models import User
from mainspring.core.db import dialect_of, utcnow
from mainspring.core.pagination import CursorSlice, SortKey, keyset_page
from mainspring.core.sql import dialect_insert
from mainspring.social.models import Block, Follow, Like, Post, ProfileDetails
from mainspring.social.schemas import Profile


def insert_ignoring_duplicates(session: AsyncSession, model: type[Any]) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the session's database.

    Liking twice, following twice: the second insert finds the primary key taken and does
    nothing, and its ``rowcount`` of 0 tells the service not to count or notify again. Unlike
    "select, then insert", it stays right when two requests race.
    """
    return dialect_insert(dialect_of(session), model).on_conflict_do_nothing()


def blocked_between(a: Any, b: Any) -> ColumnElement[bool]:
    """Whether either of users ``a`` and ``b`` blocked the other (two primary-key probes)."""
    return exists().where(
        or_(
            (Block.blocker_id == a) & (Block.blocked_id == b),
            (Block.blocker_id == b) & (Block.blocked_id == a),
        )
    )


def blocked_with(user_id: uuid.UUID) -> CompoundSelect[Any]:
    """The users on the other side of a block from ``user_id``: whom they blocked and who
    blocked them (the primary key and ``ix_blocks_blocked_id``)."""
    blocked: Select[Any] = select(Block.blocked_id).where(Block.blocker_id == user_id)
    return blocked.union(select(Block.blocker_id).where(Block.blocked_id == user_id))


class ProfileRepository:
    """Profiles, follows and blocks of the request's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- reading profiles ------------------------------------------------------------------------

    def _profiles(self, viewer_id: uuid.UUID | None) -> Select[Any]:
        """Profiles as ``viewer_id`` sees them. Every subquery correlates with ``users`` only
        (``correlate(User)``): a list of followers joins ``follows`` too, and a subquery that
        correlated with that join would count the wrong rows."""

        def count(column: Any, model: Any) -> Any:
            stmt = select(func.count()).select_from(model).where(column == User.id)
            return stmt.correlate(User).scalar_subquery()

        follows_flag: ColumnElement[bool] = false()
        blocks_flag: ColumnElement[bool] = false()
        if viewer_id is not None:
            follows_flag = (
                exists()
                .where(Follow.follower_id == viewer_id, Follow.followee_id == User.id)
                .correlate(User)
            )
            blocks_flag = (
                exists()
                .where(Block.blocker_id == viewer_id, Block.blocked_id == User.id)
                .correlate(User)
            )
        return (
            select(
                User.id,
                User.username,
                User.display_name,
                ProfileDetails.bio,
                ProfileDetails.image,
                count(Follow.followee_id, Follow).label("followers_count"),
                count(Follow.follower_id, Follow).label("following_count"),
                count(Post.author_id, Post).label("posts_count"),
                follows_flag.label("following"),
                blocks_flag.label("blocking"),
            )
            .outerjoin(ProfileDetails, ProfileDetails.user_id == User.id)
            .where(User.deleted_at.is_(None))
        )

    @staticmethod
    def to_profile(row: Row[Any]) -> Profile:
        return Profile.model_validate(row._mapping)

    async def profile(self, username: str, viewer_id: uuid.UUID | None) -> Profile | None:
        """``username``'s profile (compared case-insensitively, as accounts stores it)."""
        stmt = self._profiles(viewer_id).where(User.username_key == username.lower())
        row = (await self.session.execute(stmt)).first()
        return None if row is None else self.to_profile(row)

    async def profile_by_id(
        self, user_id: uuid.UUID, viewer_id: uuid.UUID | None
    ) -> Profile | None:
        row = (
            await self.session.execute(self._profiles(viewer_id).where(User.id == user_id))
        ).first()
        return None if row is None else self.to_profile(row)

    async def user_id(self, username: str) -> uuid.UUID | None:
        """The id of the (not deleted) user called ``username``, compared case-insensitively."""
        stmt = select(User.id).where(
            User.username_key == username.lower(), User.deleted_at.is_(None)
        )
        return await self.session.scalar(stmt)

    async def user_ids(self, usernames: list[str]) -> dict[str, uuid.UUID]:
        """Usernames (lower-cased) to ids, for the users that exist; one statement."""
        if not usernames:
            return {}
        keys = {name.lower() for name in usernames}
        stmt = select(User.username_key, User.id).where(
            User.username_key.in_(keys), User.deleted_at.is_(None)
        )
        rows: Any = (await self.session.execute(stmt)).all()
        return dict(rows)

    async def _profile_page(
        self,
        stmt: Select[Any],
        created_at: InstrumentedAttribute[datetime],
        other_id: InstrumentedAttribute[uuid.UUID],
        listing: CursorSlice,
    ) -> tuple[list[Profile], str | None]:
        stmt = stmt.add_columns(created_at.label("since"))
        keys = [SortKey(created_at), SortKey(other_id)]
        rows, next_cursor = await keyset_page(
            self.session,
            stmt,
            keys,
            listing,
            scalars=False,
            key_of=lambda row: (row.since, row.id),
        )
        return [self.to_profile(row) for row in rows], next_cursor

    async def followers(
        self,
        user_id: uuid.UUID,
        viewer_id: uuid.UUID | None,
        listing: CursorSlice,
    ) -> tuple[list[Profile], str | None]:
        """Who follows ``user_id``, most recent first (``ix_follows_followee_id_created_at``)."""
        stmt = (
            self._profiles(viewer_id)
            .join(Follow, Follow.follower_id == User.id)
            .where(Follow.followee_id == user_id)
        )
        return await self._profile_page(stmt, Follow.created_at, Follow.follower_id, listing)

    async def following(
        self,
        user_id: uuid.UUID,
        viewer_id: uuid.UUID | None,
        listing: CursorSlice,
    ) -> tuple[list[Profile], str | None]:
        """Whom ``user_id`` follows, most recent first (``ix_follows_follower_id_created_at``)."""
        followee = aliased(Follow)
        stmt = (
            self._profiles(viewer_id)
            .join(followee, followee.followee_id == User.id)
            .where(followee.follower_id == user_id)
        )
        return await self._profile_page(stmt, followee.created_at, followee.followee_id, listing)

    async def likers(
        self,
        post_id: uuid.UUID,
        viewer_id: uuid.UUID | None,
        listing: CursorSlice,
    ) -> tuple[list[Profile], str | None]:
        """Who liked ``post_id``, most recent first (``ix_post_likes_post_id_created_at``),
        leaving out the users on the other side of a block from the viewer."""
        stmt = (
            self._profiles(viewer_id)
            .join(Like, Like.user_id == User.id)
            .where(Like.post_id == post_id)
        )
        if viewer_id is not None:
            stmt = stmt.where(User.id.not_in(blocked_with(viewer_id)))
        return await self._profile_page(stmt, Like.created_at, Like.user_id, listing)

    async def blocked_by(
        self, blocker_id: uuid.UUID, listing: CursorSlice
    ) -> tuple[list[Profile], str | None]:
        """Whom ``blocker_id`` blocked, most recent first (``ix_blocks_blocker_id_created_at``)."""
        stmt = (
            self._profiles(blocker_id)
            .join(Block, Block.blocked_id == User.id)
            .where(Block.blocker_id == blocker_id)
        )
        return await self._profile_page(stmt, Block.created_at, Block.blocked_id, listing)

    # --- details ---------------------------------------------------------------------------------

    async def save_details(self, user_id: uuid.UUID, changes: dict[str, Any]) -> None:
        """Set ``bio`` and/or ``image``, creating the row on first use."""
        details = await self.session.get(ProfileDetails, user_id)
        if details is None:
            self.session.add(ProfileDetails(user_id=user_id, **changes))
        else:
            for field, value in changes.items():
                setattr(details, field, value)
        await self.session.flush()

    # --- follows and blocks ----------------------------------------------------------------------

    async def follow(self, follower_id: uuid.UUID, followee_id: uuid.UUID) -> bool:
        """Record the follow; False when it already existed."""
        stmt = insert_ignoring_duplicates(self.session, Follow).values(
            follower_id=follower_id, followee_id=followee_id, created_at=utcnow()
        )
        result: Any = await self.session.execute(stmt)
        return bool(result.rowcount)

    async def unfollow(self, follower_id: uuid.UUID, followee_id: uuid.UUID) -> bool:
        stmt = delete(Follow).where(
            Follow.follower_id == follower_id, Follow.followee_id == followee_id
        )
        result: Any = await self.session.execute(stmt)
        return bool(result.rowcount)

    async def block(self, blocker_id: uuid.UUID, blocked_id: uuid.UUID) -> bool:
        """Record the block and end the follows between the two users, both ways."""
        stmt = insert_ignoring_duplicates(self.session, Block).values(
            blocker_id=blocker_id, blocked_id=blocked_id, created_at=utcnow()
        )
        result: Any = await self.session.execute(stmt)
        await self.session.execute(
            delete(Follow).where(
                or_(
                    (Follow.follower_id == blocker_id) & (Follow.followee_id == blocked_id),
                    (Follow.follower_id == blocked_id) & (Follow.followee_id == blocker_id),
                )
            )
        )
        return bool(result.rowcount)

    async def unblock(self, blocker_id: uuid.UUID, blocked_id: uuid.UUID) -> bool:
        stmt = delete(Block).where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id)
        result: Any = await self.session.execute(stmt)
        return bool(result.rowcount)

    async def blocks(self, blocker_id: uuid.UUID, blocked_id: uuid.UUID) -> bool:
        """Whether ``blocker_id`` blocked ``blocked_id`` (one direction)."""
        stmt = select(
            exists().where(Block.blocker_id == blocker_id, Block.blocked_id == blocked_id)
        )
        return bool(await self.session.scalar(stmt))

    async def blocked_either_way(self, a: uuid.UUID, b: uuid.UUID) -> bool:
        return bool(await self.session.scalar(select(blocked_between(a, b))))


__all__ = [
    "ProfileRepository",
    "blocked_between",
    "blocked_with",
    "insert_ignoring_duplicates",
]
