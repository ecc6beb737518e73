"""Request dependencies of the blog API (and of the RealWorld adapter's writes): list filters
and what guards writing (a verified email where the operator asks
for one, per-user rate limits)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from mainspring.accounts.deps import require_verified_email
from mainspring.accounts.models import USERNAME_MAX, User
from mainspring.blog.filters import ArticleFilter
from mainspring.blog.models import TAG_MAX
from mainspring.blog.search import QUERY_MAX
from mainspring.core.ratelimit import RateLimitState, rate_limit

ARTICLES_PER_MINUTE = "30/minute"
COMMENTS_PER_MINUTE = "60/minute"


async def article_filter(
    tag: Annotated[
        str | None, Query(min_length=1, max_length=TAG_MAX, description="Only with this tag.")
    ] = None,
    author: Annotated[
        str | None,
        Query(min_length=1, max_length=USERNAME_MAX, description="Only by this author."),
    ] = None,
    favorited: Annotated[
        str | None,
        Query(min_length=1, max_length=USERNAME_MAX, description="Only favorited by this user."),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=QUERY_MAX,
            description="Full-text search in title, description and body.",
            examples=["dragon training"],
        ),
    ] = None,
) -> ArticleFilter:
    return ArticleFilter(tag=tag, author=author, favorited_by=favorited, query=q)


ArticleFilterDep = Annotated[ArticleFilter, Depends(article_filter)]

# Writing. Declare these after the authentication dependency: the limits count per user, and
# FastAPI solves a handler's dependencies in the order of its parameters.
Publisher = Annotated[User, Depends(require_verified_email("publish"))]
"""The caller, refused (403) until their email is verified when the operator lists `publish` in
``MAINSPRING_VERIFIED_EMAIL_REQUIRED_FOR``."""
ArticleQuota = Annotated[
    RateLimitState, rate_limit(ARTICLES_PER_MINUTE, by="user", scope="blog.articles")
]
CommentQuota = Annotated[
    RateLimitState, rate_limit(COMMENTS_PER_MINUTE, by="user", scope="blog.comments")
]
