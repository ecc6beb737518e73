"""What the blog caches, under which tags, and every write that makes an entry stale.

Anonymous readers all see the same thing, so their answers are kept whole, as the JSON bytes
they are sent as (``core/cached_answers.py``: ``lookup``, ``respond``), in the kernel cache:
in-process by default, in Redis (shared by every replica) at scale. A hit costs no SQL and no
serialisation.
Signed-in readers see their own ``favorited`` and ``following`` flags (and their own drafts):
they are never served from these entries, and their answers say ``Cache-Control: private``.

Entries (key: what it holds; its tags):

- ``blog-articles:<digest of the query>``: a slice of ``GET /api/v1/articles``;
  ``blog:articles``, ``blog:authors``;
- ``blog-article:<slug>``: ``GET /api/v1/articles/{slug}`` (or that no published article has
  this slug: the 404 is cached too); ``blog:article:<slug>``, ``blog:authors``;
- ``realworld-articles:<digest>`` and ``realworld-article:<slug>``: the RealWorld adapter's
  list and article (``realworld/router.py``), under the same tags.

Invalidation, always after the commit (``invalidate_after_commit``), so that no reader can
cache the old state again in between, and before the response of the write goes out:

- every write of an article through ``ArticleService`` (create, update, delete, favorite,
  unfavorite; from the blog API, the RealWorld adapter or anything else that calls it)
  invalidates ``blog:articles`` and ``blog:article:<slug>`` (the old and the new slug);
- the background schedule (``publish_due``) does the same for each article it publishes;
- the author's profile is shown in every answer and lives in other modules' tables (the
  account's ``username``/``display_name``, the social profile's ``bio``/``image``): a flush that
  changes one of those columns invalidates ``blog:articles`` and ``blog:authors``
  (``_authors_changed``, a SQLAlchemy ``before_flush`` listener, since those modules' services
  know nothing of the blog's cache).

Comments are not cached and no cached answer shows them (nor their count). What a write made
outside these paths (SQL by hand, a seed script on another process) is seen after the TTL.
Clients and proxies may keep an anonymous answer ``cached_answers.MAX_AGE_SECONDS`` and then
revalidate it with its ``ETag`` (304): the answers carry ``Vary: Authorization``, so a
signed-in request is never answered from a proxy's anonymous copy.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from mainspring.accounts.models import User
from mainspring.blog.errors import ArticleNotFound
from mainspring.core import cached_answers
from mainspring.core.cache import CachedBytes, invalidate_after_commit
from mainspring.social.models import ProfileDetails

ARTICLES_TAG = "blog:articles"
"""Every list of articles (the blog's and the RealWorld adapter's)."""
AUTHORS_TAG = "blog:authors"
"""Every cached answer shows its authors' profiles."""
TTL_SECONDS = 60
"""How long an entry lives at most: the bound for a write made outside the services."""


def article_tag(slug: str) -> str:
    return f"blog:article:{slug}"


async def lookup(
    request: Request, key: str, tags: list[str], load: cached_answers.Load
) -> CachedBytes:
    """The anonymous answer kept under ``key`` (``cached_answers.lookup``), stale once any of
    ``tags`` (or the authors' tag) is invalidated, and after ``TTL_SECONDS`` at most."""
    return await cached_answers.lookup(request, key, [*tags, AUTHORS_TAG], load, ttl=TTL_SECONDS)


def articles_changed(session: Any, *slugs: str) -> None:
    """After ``session`` commits: every list, and the articles at ``slugs``, are stale."""
    invalidate_after_commit(session, ARTICLES_TAG, *(article_tag(slug) for slug in slugs))


async def lookup_article(
    request: Request, key: str, slug: str, load: cached_answers.Load
) -> CachedBytes:
    """``lookup`` for the article at ``slug``, whose absence is kept too: a slug that names no
    published article answers 404 from the cache until a write makes it name one (creating,
    renaming, publishing an article invalidates ``blog:article:<slug>``), so a flood of
    requests for missing articles costs no SQL either."""
    return await cached_answers.lookup(
        request,
        key,
        [article_tag(slug), AUTHORS_TAG],
        load,
        ttl=TTL_SECONDS,
        missing=ArticleNotFound,
    )


# --- the authors' profiles ----------------------------------------------------------------------

_SHOWN = {User: ("username", "display_name"), ProfileDetails: ("bio", "image")}


@event.listens_for(Session, "before_flush")
def _authors_changed(session: Session, _context: Any, _instances: Any) -> None:
    """A flush that changes what an answer shows of an author makes the cached answers stale."""
    # A new account is shown nowhere yet; a new social profile shows a bio or an image.
    created = (instance for instance in session.new if type(instance) is ProfileDetails)
    for instance in (*created, *session.deleted):
        if type(instance) in _SHOWN:
            invalidate_after_commit(session, ARTICLES_TAG, AUTHORS_TAG)
            return
    for instance in session.dirty:
        shown = _SHOWN.get(type(instance))
        if shown and any(inspect(instance).attrs[name].history.has_changes() for name in shown):
            invalidate_after_commit(session, ARTICLES_TAG, AUTHORS_TAG)
            return
