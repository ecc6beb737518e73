"""The blog API's request (``Input``) and response (``Schema``) models: the read model.

Requests are bounded on every string and list, and unknown fields are refused. Responses are
what the repository builds, once per row, from the columns it selects
(``repository.ArticleRepository.articles``), and what the services and the handlers return as
they are: a list item leaves out the body, which can be long, and the HTML is always the stored,
sanitised one. Two facts the rules need but the answer does not show (the author's id, the
row's version) ride along as private attributes, never serialised.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, Field, PrivateAttr, StringConstraints

from mainspring.blog.models import (
    BODY_MAX,
    COMMENT_MAX,
    DESCRIPTION_MAX,
    TAG_MAX,
    TAGS_PER_ARTICLE_MAX,
    TITLE_MAX,
    ArticleStatus,
)
from mainspring.blog.tags import normalize_tags
from mainspring.core.conditional import make_etag
from mainspring.core.schemas import NOT_NULL, DateTime, Flag, Input, Schema

TagName = Annotated[
    str, StringConstraints(min_length=1, max_length=TAG_MAX, pattern=r"^[^/\x00-\x1f\x7f]+$")
]
TagList = Annotated[
    list[TagName], Field(max_length=TAGS_PER_ARTICLE_MAX), AfterValidator(normalize_tags)
]

BODY_EXAMPLE = "## Why\n\nBecause **Markdown** is [easy](https://commonmark.org)."


SCHEDULED_ONLY: dict[str, Any] = {
    "properties": {"status": {"const": "scheduled"}, "publish_at": NOT_NULL},
}
"""Status and schedule agree: ``scheduled`` with a ``publish_at``..."""
UNSCHEDULED: dict[str, Any] = {
    "properties": {"status": {"enum": ["draft", "published"]}, "publish_at": {"type": "null"}},
}
"""...or another status without one."""


class ArticleCreate(Input):
    """A new article. ``scheduled`` needs a ``publish_at``, which no other status takes;
    ``draft`` is the default. A ``publish_at`` already past is published by the schedule's
    next run, dated ``publish_at``."""

    schema_rules: ClassVar[dict[str, Any]] = {
        "anyOf": [{**SCHEDULED_ONLY, "required": ["status", "publish_at"]}, UNSCHEDULED]
    }

    title: str = Field(min_length=1, max_length=TITLE_MAX, examples=["How to train your dragon"])
    description: str = Field("", max_length=DESCRIPTION_MAX, examples=["Ever wonder how?"])
    body: str = Field(min_length=1, max_length=BODY_MAX, examples=[BODY_EXAMPLE])
    tags: TagList = Field(default_factory=list, examples=[["dragons", "training"]])
    status: ArticleStatus = Field(ArticleStatus.DRAFT, examples=["published"])
    publish_at: DateTime | None = Field(
        None, description="When a `scheduled` article is published (a future time)."
    )


class ArticleUpdate(Input):
    """Merge semantics: only the fields sent change. The slug stays unless ``refresh_slug``.

    ``status`` and ``publish_at`` sent together agree as in ``ArticleCreate``. A
    ``publish_at`` alone moves the schedule of a scheduled article; ``status: scheduled``
    alone keeps the one it has: either on an article without a schedule is a conflict (409)."""

    schema_rules: ClassVar[dict[str, Any]] = {
        "anyOf": [
            {"not": {"required": ["status", "publish_at"]}},
            SCHEDULED_ONLY,
            UNSCHEDULED,
        ]
    }

    title: str | None = Field(None, min_length=1, max_length=TITLE_MAX, examples=["New title"])
    description: str | None = Field(None, max_length=DESCRIPTION_MAX)
    body: str | None = Field(None, min_length=1, max_length=BODY_MAX, examples=[BODY_EXAMPLE])
    tags: TagList | None = Field(None, examples=[["dragons"]])
    status: ArticleStatus | None = Field(None, examples=["published"])
    publish_at: DateTime | None = None
    refresh_slug: Flag = Field(
        False, description="Derive a new slug from the (new) title; old links stop working."
    )


class Author(Schema):
    username: str = Field(examples=["alice"])
    display_name: str | None = Field(None, examples=["Alice Liddell"])
    bio: str | None = None
    image: str | None = None
    following: bool = Field(description="Whether the viewer follows the author.")


class ArticleSummary(Schema):
    """An article in a list: everything but the body."""

    _author_id: uuid.UUID = PrivateAttr()
    _version: int = PrivateAttr(default=0)

    id: uuid.UUID
    slug: str = Field(examples=["how-to-train-your-dragon"])
    title: str
    description: str
    tags: list[str] = Field(examples=[["dragons", "training"]])
    status: ArticleStatus
    publish_at: datetime | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    favorites_count: int = Field(ge=0)
    favorited: bool = Field(description="Whether the viewer favorited the article.")
    author: Author

    @classmethod
    def of_row(cls, fields: dict[str, Any], *, author_id: uuid.UUID, version: int) -> Self:
        """The schema of one selected row: ``fields`` validated once, the private facts set."""
        article = cls.model_validate(fields)
        article._author_id, article._version = author_id, version
        return article

    @property
    def author_id(self) -> uuid.UUID:
        return self._author_id

    @property
    def version(self) -> int:
        """The row's optimistic-lock version: it moves with every edit."""
        return self._version

    @property
    def etag(self) -> str:
        """The weak ETag of what this reader sees: the version, the counter, the reader's flags
        (a favorite is not an edit: it changes the count, not the version)."""
        return make_etag(self._version, self.favorites_count, self.favorited, self.author.following)


class Article(ArticleSummary):
    """One article, with its Markdown source and the sanitised HTML rendered from it."""

    body: str
    body_html: str = Field(examples=["<h2>Why</h2>\n<p>Because <strong>Markdown</strong>...</p>"])


class CommentCreate(Input):
    body: str = Field(min_length=1, max_length=COMMENT_MAX, examples=["Thank you so much!"])
    parent_id: uuid.UUID | None = Field(
        None, description="Reply to this top-level comment of the same article."
    )


class CommentUpdate(Input):
    body: str = Field(min_length=1, max_length=COMMENT_MAX, examples=["Thanks a lot!"])


class Comment(Schema):
    id: uuid.UUID
    number: int = Field(
        ge=1, description="The comment's number within its article: 1, 2, 3... in order."
    )
    parent_id: uuid.UUID | None = Field(description="The comment this one replies to.")
    body: str
    body_html: str
    created_at: datetime
    updated_at: datetime
    author: Author


class TagUsage(Schema):
    name: str = Field(examples=["dragons"])
    articles_count: int = Field(ge=1, description="Published articles with this tag.")
