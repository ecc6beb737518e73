"""Profiles, follows and blocks: the rules of the social graph.

- Nobody follows or blocks themselves (422).
- A user blocked by another cannot follow them (403); a user who blocked another must unblock
  before following them (409).
- Blocking ends the follows between the two users, both ways, at once.
- Following and blocking are idempotent: doing it twice changes nothing and notifies once.
- A change of whom a user follows invalidates their ``following_tag`` after the commit
  (``social/caching.py``): their feeds are kept per reader under it.

These services are also the social module's interface to other modules: the blog and its
RealWorld adapter call ``profile_service.get_profile`` and ``follow_service.follow``.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.auth import Viewer
from mainspring.core.conditional import make_etag
from mainspring.core.pagination import CursorSlice
from mainspring.social.caching import following_changed
from mainspring.social.errors import Blocked, ProfileNotFound, SelfInteraction, UnblockFirst
from mainspring.social.notifications.service import notification_service
from mainspring.social.profiles.repository import ProfileRepository
from mainspring.social.schemas import Profile


async def user_id_of(session: AsyncSession, username: str) -> uuid.UUID:
    """The id of the user called ``username`` (any case); 404 when there is none."""
    user_id = await ProfileRepository(session).user_id(username)
    if user_id is None:
        raise ProfileNotFound(f"There is no user called {username!r}.")
    return user_id


def profile_etag(profile: Profile) -> str:
    """The weak ``ETag`` of a profile as one viewer sees it: what the user tells about
    themselves, the three counts, and the viewer's two flags."""
    return make_etag(
        profile.username,
        profile.display_name,
        profile.image,
        profile.bio,
        profile.followers_count,
        profile.following_count,
        profile.posts_count,
        profile.following,
        profile.blocking,
    )


class ProfileService:
    async def get_profile(
        self, session: AsyncSession, username: str, viewer: Viewer | uuid.UUID | None
    ) -> Profile:
        """``username``'s profile as ``viewer`` sees it; 404 if none.

        Other modules may name the viewer by user id (None: anonymous) instead of a ``Viewer``:
        the blog and the RealWorld adapter call this with whichever they hold."""
        viewer_id = viewer.user_id if isinstance(viewer, Viewer) else viewer
        profile = await ProfileRepository(session).profile(username, viewer_id)
        if profile is None:
            raise ProfileNotFound(f"There is no user called {username!r}.")
        return profile

    async def followers(
        self,
        session: AsyncSession,
        username: str,
        viewer: Viewer,
        listing: CursorSlice,
    ) -> tuple[list[Profile], str | None]:
        user_id = await user_id_of(session, username)
        return await ProfileRepository(session).followers(user_id, viewer.user_id, listing)

    async def following(
        self,
        session: AsyncSession,
        username: str,
        viewer: Viewer,
        listing: CursorSlice,
    ) -> tuple[list[Profile], str | None]:
        user_id = await user_id_of(session, username)
        return await ProfileRepository(session).following(user_id, viewer.user_id, listing)

    async def get_profile_by_id(self, session: AsyncSession, user_id: uuid.UUID) -> Profile:
        """A user's own profile (404 once the account is deleted)."""
        profile = await ProfileRepository(session).profile_by_id(user_id, user_id)
        if profile is None:
            raise ProfileNotFound("Your account no longer exists.")
        return profile

    async def update_details(
        self, session: AsyncSession, user_id: uuid.UUID, changes: dict[str, Any]
    ) -> Profile:
        """Set the user's own bio and image (``changes`` holds only the fields sent)."""
        if changes:
            await ProfileRepository(session).save_details(user_id, changes)
        return await self.get_profile_by_id(session, user_id)


class FollowService:
    async def follow(self, session: AsyncSession, follower_id: uuid.UUID, username: str) -> Profile:
        """``follower_id`` follows ``username``; returns the followed profile. The followed
        user is notified (``follow``) the first time only."""
        repository = ProfileRepository(session)
        followee_id = await user_id_of(session, username)
        if followee_id == follower_id:
            raise SelfInteraction("You cannot follow yourself.")
        if await repository.blocks(followee_id, follower_id):
            raise Blocked("This user blocked you.")
        if await repository.blocks(follower_id, followee_id):
            raise UnblockFirst("You blocked this user: unblock them before following.")
        if await repository.follow(follower_id, followee_id):
            following_changed(session, follower_id)
            await notification_service.notify(
                session,
                recipient_id=followee_id,
                actor_id=follower_id,
                kind="follow",
                subject_type="user",
                subject_id=follower_id,
                data={},
            )
        return await profile_service.get_profile(session, username, follower_id)

    async def unfollow(
        self, session: AsyncSession, follower_id: uuid.UUID, username: str
    ) -> Profile:
        """``follower_id`` no longer follows ``username`` (nothing happens if it did not)."""
        followee_id = await user_id_of(session, username)
        if await ProfileRepository(session).unfollow(follower_id, followee_id):
            following_changed(session, follower_id)
        return await profile_service.get_profile(session, username, follower_id)


class BlockService:
    async def block(self, session: AsyncSession, blocker_id: uuid.UUID, username: str) -> Profile:
        """``blocker_id`` blocks ``username``: their follows of each other end now."""
        blocked_id = await user_id_of(session, username)
        if blocked_id == blocker_id:
            raise SelfInteraction("You cannot block yourself.")
        await ProfileRepository(session).block(blocker_id, blocked_id)
        following_changed(session, blocker_id, blocked_id)  # their follows of each other ended
        return await profile_service.get_profile(session, username, blocker_id)

    async def unblock(self, session: AsyncSession, blocker_id: uuid.UUID, username: str) -> Profile:
        """Lift the block; earlier follows do not come back."""
        blocked_id = await user_id_of(session, username)
        await ProfileRepository(session).unblock(blocker_id, blocked_id)
        return await profile_service.get_profile(session, username, blocker_id)

    async def blocked(
        self,
        session: AsyncSession,
        blocker_id: uuid.UUID,
        listing: CursorSlice,
    ) -> tuple[list[Profile], str | None]:
        """The users ``blocker_id`` blocked, most recent first (only they see this list)."""
        return await ProfileRepository(session).blocked_by(blocker_id, listing)


profile_service = ProfileService()
follow_service = FollowService()
block_service = BlockService()
