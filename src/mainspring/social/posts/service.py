"""Posts, replies, quotes, reposts and likes: the rules.

- A post is 1-280 characters of plain text; its hashtags and @mentions are found when it is
  written (``social/entities.py``) and stored with it. A mention of a user that does not exist
  stays plain text.
- A repost has no content of its own: liking, replying to, quoting or reposting a repost acts on
  its original.
- A block stands between two users both ways: neither replies to, quotes, reposts or likes the
  other's posts (403 ``blocked``), and neither sees the other's posts.
- Only its author deletes a post, or a moderator (``content:moderate``). Its reposts, likes and
  the notifications about it go with it; replies and quotes stay, pointing at nothing.
- Notifications: the parent's author for a reply, the original's for a quote or a repost, the
  post's for a like, each mentioned user for a mention (once per post, and not twice for the
  same post: the author replied to is not also notified of a mention).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.auth import Principal, Viewer
from mainspring.core.conditional import make_etag
from mainspring.core.pagination import CursorSlice
from mainspring.social.entities import find_mentions, stored_entities, unique
from mainspring.social.errors import Blocked, NotYourPost, PostNotFound, UnknownPost
from mainspring.social.models import Post
from mainspring.social.notifications.service import notification_service
from mainspring.social.posts.repository import PostRepository
from mainspring.social.profiles.repository import ProfileRepository
from mainspring.social.schemas import Post as PostOut
from mainspring.social.schemas import PostCreate, PostFields, Profile

MODERATE = "content:moderate"
EXCERPT_LENGTH = 80


def excerpt(text: str) -> str:
    """The start of a post's text, for a notification."""
    return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1] + "…"


async def _entities(session: AsyncSession, body: str) -> tuple[dict[str, Any], list[str]]:
    """The entities to store with a post, and its distinct hashtags. Mentions are resolved to
    users in one statement; those naming nobody stay plain text."""
    names = unique([mention.value for mention in find_mentions(body)])
    users = await ProfileRepository(session).user_ids(names)
    entities = stored_entities(body, users)
    return entities, unique([hashtag["value"] for hashtag in entities["hashtags"]])


def _state(post: PostFields) -> tuple[object, ...]:
    """What changes in a post's representation: its text never does (posts are not edited);
    its counters, the viewer's flags, its author's name and image, and its link to the post
    it replied to (cut when that post is deleted) do."""
    author = post.author
    return (
        post.id,
        post.like_count,
        post.reply_count,
        post.repost_count,
        post.quote_count,
        post.liked,
        post.reposted,
        post.reply_to_id,
        author.display_name,
        author.image,
    )


def post_etag(post: PostOut) -> str:
    """The weak ``ETag`` of a post as one viewer sees it, and of its original (which may be
    deleted, liked, counted...)."""
    original = _state(post.original) if post.original is not None else ("-",)
    return make_etag(*_state(post), *original)


class PostService:
    async def _target(
        self,
        session: AsyncSession,
        post_id: uuid.UUID,
        user_id: uuid.UUID,
        *,
        field: str | None = None,
    ) -> Post:
        """The post that ``user_id`` acts on: ``post_id``, or its original if it is a repost.
        404 when it does not exist (409 ``unknown-post`` when the body's ``field`` names it);
        403 when a block stands between the user and its author."""
        repository = PostRepository(session)
        post = await repository.get(post_id)
        if post is not None and post.repost_of_id is not None:
            post = await repository.get(post.repost_of_id)
        if post is None:
            raise UnknownPost(field) if field else PostNotFound("There is no such post.")
        if await ProfileRepository(session).blocked_either_way(post.author_id, user_id):
            raise Blocked("A block stands between you and this post's author.")
        return post

    async def view(self, session: AsyncSession, post_id: uuid.UUID, viewer: Viewer) -> PostOut:
        """The post as the viewer sees it; 404 if missing, 403 if a block hides it."""
        return await self._read(session, post_id, viewer.user_id)

    async def _read(
        self, session: AsyncSession, post_id: uuid.UUID, viewer_id: uuid.UUID | None
    ) -> PostOut:
        """The read every path ends with (the GET's representation): 404, 403 or the post."""
        post = await PostRepository(session).view(post_id, viewer_id)
        if post is None:
            if viewer_id is not None and await PostRepository(session).get(post_id):
                raise Blocked("A block stands between you and this post's author.")
            raise PostNotFound("There is no such post.")
        return post

    async def create(
        self, session: AsyncSession, author_id: uuid.UUID, data: PostCreate
    ) -> PostOut:
        """Write a post, a reply (``reply_to_id``) or a quote (``quote_of_id``)."""
        repository = PostRepository(session)
        parent = (
            await self._target(session, data.reply_to_id, author_id, field="body.reply_to_id")
            if data.reply_to_id
            else None
        )
        quoted = (
            await self._target(session, data.quote_of_id, author_id, field="body.quote_of_id")
            if data.quote_of_id
            else None
        )
        entities, tags = await _entities(session, data.body)
        post = await repository.add(
            Post(
                author_id=author_id,
                kind="reply" if parent else "quote" if quoted else "post",
                body=data.body,
                entities=entities,
                reply_to_id=parent.id if parent else None,
                quote_of_id=quoted.id if quoted else None,
                original_author_id=quoted.author_id if quoted else None,
            ),
            tags,
        )
        notified = {author_id}
        about = {"excerpt": excerpt(post.body)}
        for counted, counter, kind in (
            (parent, "reply_count", "reply"),
            (quoted, "quote_count", "quote"),
        ):
            if counted is not None:
                await repository.change_count(counted.id, counter, +1)
                await notification_service.notify(
                    session, counted.author_id, author_id, kind, "post", post.id, about
                )
                notified.add(counted.author_id)
        for mention in entities["mentions"]:
            recipient = uuid.UUID(mention["user_id"])
            if recipient not in notified:
                notified.add(recipient)
                await notification_service.notify(
                    session, recipient, author_id, "mention", "post", post.id, about
                )
        return await self._read(session, post.id, author_id)

    async def delete(self, session: AsyncSession, post_id: uuid.UUID, principal: Principal) -> None:
        """Delete a post: its author, or a moderator."""
        repository = PostRepository(session)
        post = await repository.get(post_id)
        if post is None:
            raise PostNotFound("There is no such post.")
        if post.author_id != principal.user_id and not principal.can(MODERATE):
            raise NotYourPost("Only its author deletes a post.")
        for parent_id, counter in (
            (post.reply_to_id, "reply_count"),
            (post.quote_of_id, "quote_count"),
            (post.repost_of_id, "repost_count"),
        ):
            if parent_id is not None:
                await repository.change_count(parent_id, counter, -1)
        await notification_service.forget_subject(session, "post", post.id)
        await repository.delete(post)

    async def like(self, session: AsyncSession, post_id: uuid.UUID, user_id: uuid.UUID) -> PostOut:
        """Like the post (idempotent); its author is notified the first time."""
        post = await self._target(session, post_id, user_id)
        repository = PostRepository(session)
        if await repository.like(post.id, user_id):
            await repository.change_count(post.id, "like_count", +1)
            await notification_service.notify(
                session,
                post.author_id,
                user_id,
                "like",
                "post",
                post.id,
                {"excerpt": excerpt(post.body)},
            )
        return await self._read(session, post.id, user_id)

    async def unlike(
        self, session: AsyncSession, post_id: uuid.UUID, user_id: uuid.UUID
    ) -> PostOut:
        post = await self._target(session, post_id, user_id)
        repository = PostRepository(session)
        if await repository.unlike(post.id, user_id):
            await repository.change_count(post.id, "like_count", -1)
        return await self._read(session, post.id, user_id)

    async def repost(
        self, session: AsyncSession, post_id: uuid.UUID, user_id: uuid.UUID
    ) -> tuple[PostOut, bool]:
        """Repost the post; returns the repost and whether it is new (a second repost of the
        same post gives back the first)."""
        post = await self._target(session, post_id, user_id)
        repository = PostRepository(session)
        existing = await repository.repost_of(post.id, user_id)
        if existing is not None:
            return await self._read(session, existing.id, user_id), False
        repost = await repository.add(
            Post(
                author_id=user_id,
                kind="repost",
                repost_of_id=post.id,
                original_author_id=post.author_id,
                entities={},
            ),
            [],
        )
        await repository.change_count(post.id, "repost_count", +1)
        await notification_service.notify(
            session,
            post.author_id,
            user_id,
            "repost",
            "post",
            post.id,
            {"excerpt": excerpt(post.body)},
        )
        return await self._read(session, repost.id, user_id), True

    async def unrepost(self, session: AsyncSession, post_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Undo the user's repost of the post (nothing happens if there is none)."""
        post = await self._target(session, post_id, user_id)
        repository = PostRepository(session)
        repost = await repository.repost_of(post.id, user_id)
        if repost is not None:
            await repository.change_count(post.id, "repost_count", -1)
            await repository.delete(repost)

    async def replies(
        self,
        session: AsyncSession,
        post_id: uuid.UUID,
        viewer: Viewer,
        listing: CursorSlice,
    ) -> tuple[list[PostOut], str | None]:
        """The direct replies to a post, oldest first; 404 or 403 as for reading the post."""
        await self.view(session, post_id, viewer)
        return await PostRepository(session).replies(post_id, viewer.user_id, listing)

    async def likers(
        self,
        session: AsyncSession,
        post_id: uuid.UUID,
        viewer: Viewer,
        listing: CursorSlice,
    ) -> tuple[list[Profile], str | None]:
        """Who liked the post (for a repost: its original, which is what was liked), most
        recent first; 404 or 403 as for reading the post."""
        post = await self.view(session, post_id, viewer)
        liked_id = post.original.id if post.kind == "repost" and post.original else post.id
        return await ProfileRepository(session).likers(liked_id, viewer.user_id, listing)


post_service = PostService()
