"""Request and response models of the social module: the read model.

The repositories select the columns a response shows and validate each row into these models
once; services and handlers pass them on untouched, and FastAPI serialises them straight to
JSON. Nothing is built from a whole ORM row, so nothing a client should not see leaks out.
Requests are ``Input`` models: unknown fields are refused.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from mainspring.core.schemas import Input, Schema
from mainspring.social.models import BIO_MAX_LENGTH, IMAGE_URL_MAX_LENGTH, POST_MAX_LENGTH

USERNAME_EXAMPLE = "ada"

# --- profiles -----------------------------------------------------------------------------------


class Author(Schema):
    """The few fields of a user shown next to what they wrote."""

    username: str = Field(examples=[USERNAME_EXAMPLE])
    display_name: str | None = Field(None, examples=["Ada Lovelace"])
    image: str | None = Field(None, examples=["https://example.com/ada.png"])


class Profile(Author):
    """A user's public profile, as the viewer sees it."""

    bio: str | None = Field(None, examples=["Analyst of engines."])
    followers_count: int = Field(ge=0)
    following_count: int = Field(ge=0)
    posts_count: int = Field(ge=0, description="Posts, replies, quotes and reposts.")
    following: bool = Field(description="The viewer follows this user (false when anonymous).")
    blocking: bool = Field(description="The viewer blocked this user (false when anonymous).")


class ProfileUpdate(Input):
    """The parts of a profile a user sets; omitted fields keep their value, null clears."""

    bio: str | None = Field(None, max_length=BIO_MAX_LENGTH, examples=["Analyst of engines."])
    image: str | None = Field(
        None,
        max_length=IMAGE_URL_MAX_LENGTH,
        pattern=r"^https://\S+$",
        examples=["https://example.com/me.png"],
    )


# --- posts --------------------------------------------------------------------------------------

PostKind = Literal["post", "reply", "quote", "repost"]


class TextEntity(Schema):
    """A link in a post's text: ``body[start:end]`` (Unicode code points) is the hashtag or
    mention; ``href`` is the API path of what it links to."""

    kind: Literal["hashtag", "mention"]
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    value: str = Field(description="The tag (lower-cased) or the username.")
    href: str = Field(examples=["/api/v1/hashtags/python/posts"])


class PostFields(Schema):
    """What every post shows, itself or embedded in another (a quote, a repost)."""

    id: uuid.UUID
    kind: PostKind
    author: Author
    body: str = Field(examples=["Hello #python, hello @ada"])
    entities: list[TextEntity]
    reply_to_id: uuid.UUID | None = Field(
        description="The post this one replies to; null when it is not a reply or that post "
        "was deleted."
    )
    like_count: int = Field(ge=0)
    reply_count: int = Field(ge=0)
    repost_count: int = Field(ge=0)
    quote_count: int = Field(ge=0)
    liked: bool = Field(description="The viewer likes this post (false when anonymous).")
    reposted: bool = Field(description="The viewer reposted this post (false when anonymous).")
    created_at: datetime


class Post(PostFields):
    """A post. A ``repost`` has no text of its own: show ``original``, "reposted by ``author``".
    A ``quote`` shows its text above ``original``; ``original`` is null when it was deleted."""

    original: PostFields | None = None


class PostCreate(Input):
    """A new post; with ``reply_to_id`` a reply, with ``quote_of_id`` a quote (not both)."""

    body: str = Field(
        min_length=1,
        max_length=POST_MAX_LENGTH,
        examples=["Reading about #databases with @ada"],
        description="Plain text, 1 to 280 characters; #hashtags and @mentions become links.",
    )
    reply_to_id: uuid.UUID | None = Field(None, description="Reply to this post.")
    quote_of_id: uuid.UUID | None = Field(None, description="Quote this post.")

    at_most_one_of: ClassVar[tuple[str, ...]] = ("reply_to_id", "quote_of_id")


class TrendingHashtag(Schema):
    tag: str = Field(examples=["python"])
    posts: int = Field(ge=1, description="Posts with this tag over the last 24 hours.")


class Trending(Schema):
    items: list[TrendingHashtag]
    since: datetime = Field(description="Start of the counted window (24 hours ago).")


# --- notifications ------------------------------------------------------------------------------


class Notification(Schema):
    """``actor`` did ``kind`` to the subject (``subject_type`` + ``subject_id``)."""

    id: uuid.UUID
    kind: str = Field(examples=["like"])
    actor: Author
    subject_type: str = Field(examples=["post"])
    subject_id: uuid.UUID | None
    data: dict[str, Any] = Field(examples=[{"excerpt": "Reading about #databases"}])
    read: bool
    created_at: datetime


class UnreadCount(Schema):
    count: int = Field(ge=0, examples=[3])


class MarkedRead(Schema):
    marked: int = Field(ge=0, description="Notifications that were unread and are now read.")
