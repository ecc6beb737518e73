"""What a list of articles can be narrowed by (the blog API and the RealWorld API alike)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class ArticleFilter:
    """Each filter set narrows the list; each is served by an index of its own."""

    tag: str | None = None
    author: str | None = None
    """Username of the author, in any case."""
    favorited_by: str | None = None
    """Username of a user who favorited the articles."""
    followed_by: uuid.UUID | None = None
    """Id of a user: articles by the authors this user follows (a feed)."""
    query: str | None = None
    """Full-text search over title, description and body."""
