"""The social graph, posts and notifications.

Every list an endpoint serves has an index whose columns are the list's filter then its order,
so that a slice is one index range scan (``ix_posts_author_id_created_at`` serves a user's
timeline, ``ix_follows_followee_id_created_at`` a user's followers, and so on).

Counters that every timeline item shows (likes, replies, reposts, quotes) are kept on the post
row and changed with ``UPDATE ... SET n = n + 1`` in the same transaction as the like or the
reply: a timeline page reads them for free instead of counting rows for each item. The counts
of a profile (followers, following, posts) are counted when asked: a profile is read one at a
time, and each count is an index range scan.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mainspring.core.db import Base, IdMixin, utcnow

POST_MAX_LENGTH = 280
BIO_MAX_LENGTH = 500
IMAGE_URL_MAX_LENGTH = 2048


def _user_fk() -> Any:
    return ForeignKey("users.id", ondelete="CASCADE")


class ProfileDetails(Base):
    """What a user tells about themselves beyond their account: a bio and an image URL.

    The account (``users``) belongs to the accounts module; this row is the social module's
    own, created the first time the user sets either field. A user without one shows nulls.
    """

    __tablename__ = "profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(_user_fk(), primary_key=True)
    bio: Mapped[str | None] = mapped_column(String(BIO_MAX_LENGTH), default=None)
    image: Mapped[str | None] = mapped_column(String(IMAGE_URL_MAX_LENGTH), default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Follow(Base):
    """``follower`` follows ``followee``. The primary key answers "does A follow B?"."""

    __tablename__ = "follows"
    __table_args__ = (
        CheckConstraint("follower_id <> followee_id", name="not_self"),
        Index("ix_follows_followee_id_created_at", "followee_id", "created_at", "follower_id"),
        Index("ix_follows_follower_id_created_at", "follower_id", "created_at", "followee_id"),
    )

    follower_id: Mapped[uuid.UUID] = mapped_column(_user_fk(), primary_key=True)
    followee_id: Mapped[uuid.UUID] = mapped_column(_user_fk(), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Block(Base):
    """``blocker`` blocked ``blocked``: no follow, reply, like, repost or mention between them."""

    __tablename__ = "blocks"
    __table_args__ = (
        CheckConstraint("blocker_id <> blocked_id", name="not_self"),
        Index("ix_blocks_blocked_id", "blocked_id", "blocker_id"),
        Index("ix_blocks_blocker_id_created_at", "blocker_id", "created_at", "blocked_id"),
    )

    blocker_id: Mapped[uuid.UUID] = mapped_column(_user_fk(), primary_key=True)
    blocked_id: Mapped[uuid.UUID] = mapped_column(_user_fk(), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Post(IdMixin, Base):
    """A post, a reply, a quote or a repost: one table, so that a timeline is one index scan.

    ``kind`` says which: a ``reply`` has ``reply_to_id``, a ``quote`` has ``quote_of_id`` and its
    own text, a ``repost`` has ``repost_of_id`` and no text. When a post is deleted, its reposts
    go with it (``CASCADE``) while replies and quotes stay, pointing at nothing (``SET NULL``):
    they are their authors' words. ``original_author_id`` is the author of the quoted or
    reposted post, copied here so that the block rule filters a timeline from its index alone.
    ``entities`` holds the hashtags and mentions found in the
    text (see ``social/entities.py``), resolved to users when the post was written.
    """

    __tablename__ = "posts"
    __table_args__ = (
        CheckConstraint("kind IN ('post', 'reply', 'quote', 'repost')", name="kind"),
        # A timeline reads (author, time, id); the block rule reads the original's author from
        # the same index entry, so that filtering never costs a visit to the table.
        Index(
            "ix_posts_author_id_created_at", "author_id", "created_at", "id", "original_author_id"
        ),
        Index("ix_posts_reply_to_id_created_at", "reply_to_id", "created_at", "id"),
        Index("ix_posts_quote_of_id", "quote_of_id"),
        # One repost per user and post; it also answers "did the viewer repost this?".
        UniqueConstraint("repost_of_id", "author_id"),
    )

    author_id: Mapped[uuid.UUID] = mapped_column(_user_fk())
    kind: Mapped[str] = mapped_column(String(8), default="post")
    body: Mapped[str] = mapped_column(String(POST_MAX_LENGTH), default="")
    entities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), default=None
    )
    quote_of_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("posts.id", ondelete="SET NULL"), default=None
    )
    repost_of_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), default=None
    )
    original_author_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    reply_count: Mapped[int] = mapped_column(Integer, default=0)
    repost_count: Mapped[int] = mapped_column(Integer, default=0)
    quote_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Like(Base):
    """``user`` likes ``post``. The primary key answers "did the viewer like this?"; the
    ``post_id, created_at`` index lists who liked a post, most recent first."""

    __tablename__ = "post_likes"
    __table_args__ = (
        Index("ix_post_likes_user_id_created_at", "user_id", "created_at"),
        Index("ix_post_likes_post_id_created_at", "post_id", "created_at", "user_id"),
    )

    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(_user_fk(), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostHashtag(Base):
    """A hashtag of a post, lower-cased. ``created_at`` is the post's, copied here so that the
    hashtag timeline and the trending count each read one index of this table alone."""

    __tablename__ = "post_hashtags"
    __table_args__ = (
        Index("ix_post_hashtags_tag_created_at", "tag", "created_at", "post_id"),
        Index("ix_post_hashtags_created_at", "created_at"),
    )

    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(IdMixin, Base):
    """Something happened that concerns ``recipient``: ``actor`` did ``kind`` to a subject.

    ``subject_type`` and ``subject_id`` name what it is about (``post``, ``user``, ``article``...)
    without a foreign key, so that any module can notify; ``data`` carries what a client shows
    without another request (an excerpt, a slug). ``read_at`` is null until it is read.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_recipient_id_created_at", "recipient_id", "created_at", "id"),
        Index("ix_notifications_recipient_id_read_at", "recipient_id", "read_at"),
        Index("ix_notifications_subject_id", "subject_id"),
        Index("ix_notifications_actor_id", "actor_id"),
    )

    recipient_id: Mapped[uuid.UUID] = mapped_column(_user_fk())
    actor_id: Mapped[uuid.UUID] = mapped_column(_user_fk())
    kind: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    read_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = ["Block", "Follow", "Like", "Notification", "Post", "PostHashtag", "ProfileDetails"]
