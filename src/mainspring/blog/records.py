"""What the blog's services answer: an article, a comment or an author as one reader sees them.

A record carries, next to the row's own columns, what depends on the reader (``favorited``,
``following``) and what lives in other tables (the tags, the author's profile). The repository
builds records for a whole page in a fixed number of queries; the blog API and the RealWorld
adapter each turn them into their own response shapes.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AuthorRecord:
    id: uuid.UUID
    username: str
    display_name: str | None
    bio: str | None
    image: str | None
    following: bool


@dataclass(frozen=True)
class ArticleRecord:
    id: uuid.UUID
    author_id: uuid.UUID
    slug: str
    title: str
    description: str
    body: str
    body_html: str
    status: str
    publish_at: datetime | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime
    favorites_count: int
    version: int
    tags: list[str]
    favorited: bool
    author: AuthorRecord

    @property
    def etag(self) -> str:
        """A strong ETag of what this reader sees: the row's version, its counter, the flags."""
        state = (
            f"{self.id}:{self.version}:{self.favorites_count}:"
            f"{self.favorited:d}:{self.author.following:d}"
        )
        return '"' + hashlib.sha256(state.encode()).hexdigest()[:32] + '"'


@dataclass(frozen=True)
class CommentRecord:
    id: uuid.UUID
    article_id: uuid.UUID
    parent_id: uuid.UUID | None
    number: int
    thread_number: int
    body: str
    body_html: str
    created_at: datetime
    updated_at: datetime
    author: AuthorRecord


@dataclass(frozen=True)
class TagRecord:
    name: str
    articles_count: int
