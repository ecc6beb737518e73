"""What the blog caches, under which tags, and every write that makes an entry stale.

Anonymous readers all see the same thing, so their answers are kept whole, as the JSON bytes
they are sent as (``core/cached_answers.py``: ``lookup``, ``respond``), in the kernel cache:
in-process by default, in Redis (shared by every replica) at scale. A hit costs no SQL and no
serialisation.
A signed-in reader sees exactly the same answers but for their own flags: each article's
``favorited`` and its author's ``following``. They are answered from the same entries plus
those flags, read afresh by one statement over the ids the entry's ``meta`` names
(``flags``, ``cached_answers.respond_private``): never cached, so never stale. Their answers
say ``Cache-Control: private, no-cache``, and their ETag moves with their flags. What the
entries cannot give (a reader's own drafts and scheduled articles, the listing of them) is read
for the reader as before.

Entries (key: what it holds; its tags). Each key ends with ``LAYOUT``, and the ``meta`` of an
entry that shows articles holds their ids and their authors' ids (``ids_meta``):

- ``blog-articles:<digest of the query>``: a slice of ``GET /api/v1/articles``;
  ``blog:articles``, ``blog:authors``;
- ``blog-article:<slug>``: ``GET /api/v1/articles/{slug}`` (or that no published article has
  this slug: the 404 is cached too); ``blog:article:<slug>``, ``blog:authors``;
- ``realworld-articles:<digest>`` and ``realworld-article:<slug>``: the RealWorld adapter's
  list and article (``realworld/router.py``), under the same tags;
- ``blog-feed:<reader id>:<digest>`` and ``realworld-feed:<reader id>:<digest>``: a slice of
  one reader's feed (``lookup_feed``), their own answer (``cached_answers.lookup_own``), flags
  included; ``blog:articles``, ``blog:authors`` and ``social:following:<reader id>`` (the
  social module invalidates it when whom the reader follows changes: ``social/caching.py``).

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

import functools
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Request
from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session

from mainspring.accounts.models import User
from mainspring.blog import schemas
from mainspring.blog.errors import ArticleNotFound
from mainspring.blog.repository.articles import reader_flags
from mainspring.core import cached_answers
from mainspring.core.cache import CachedBytes
from mainspring.core.cache_commit import invalidate_after_commit
from mainspring.core.conditional import make_etag
from mainspring.social.caching import following_tag
from mainspring.social.models import ProfileDetails

ARTICLES_TAG = "blog:articles"
"""Every list of articles (the blog's and the RealWorld adapter's)."""
AUTHORS_TAG = "blog:authors"
"""Every cached answer shows its authors' profiles."""
TTL_SECONDS = 60
"""How long an entry lives at most: the bound for a write made outside the services."""
LAYOUT = "2"
"""The last part of every key: changed whenever what an entry holds changes (its ``meta``), so
that a replica still running the previous release, sharing Redis, never reads an entry it
cannot use (nor this one an entry of the previous layout)."""
ARTICLE_IDS, AUTHOR_IDS = "article_ids", "author_ids"
"""The ``meta`` entries of the articles an answer shows, and of their authors, in order."""


def article_tag(slug: str) -> str:
    return f"blog:article:{slug}"


async def lookup(
    request: Request,
    key: str,
    tags: list[str],
    load: cached_answers.Load,
    personal: cached_answers.PersonalPart,
) -> CachedBytes:
    """The anonymous answer kept under ``key`` (``cached_answers.lookup``), stale once any of
    ``tags`` (or the authors' tag) is invalidated, and after ``TTL_SECONDS`` at most; a
    signed-in reader gets it with their ``personal`` flags (``flags``)."""
    return await cached_answers.lookup(
        request,
        f"{key}:{LAYOUT}",
        [*tags, AUTHORS_TAG],
        load,
        ttl=TTL_SECONDS,
        personal=personal,
    )


def feed_tags(reader_id: uuid.UUID) -> list[str]:
    """A reader's feed shows the articles (and their ``favorited``, which a favorite
    invalidates with ``blog:articles``) and authors of the users they follow."""
    return [ARTICLES_TAG, AUTHORS_TAG, following_tag(reader_id)]


async def lookup_feed(
    request: Request,
    reader_id: uuid.UUID,
    key: str,
    load: cached_answers.Load,
    link: cached_answers.Link | None = None,
) -> CachedBytes:
    """The reader's slice of their feed kept under ``key`` (a ``digest_key`` of the slice,
    ``<kind>:<digest>``), as ``cached_answers.lookup_own`` keeps it: per reader, until an
    article, an author or whom the reader follows changes, ``TTL_SECONDS`` at most."""
    kind, _, digest = key.partition(":")

    def reader_key(reader: uuid.UUID) -> str:
        return f"{kind}:{reader}:{digest}:{LAYOUT}"

    return await cached_answers.lookup_own(
        request, reader_id, reader_key, feed_tags, load, ttl=TTL_SECONDS, link=link
    )


def articles_changed(session: Any, *slugs: str) -> None:
    """After ``session`` commits: every list, and the articles at ``slugs``, are stale."""
    invalidate_after_commit(session, ARTICLES_TAG, *(article_tag(slug) for slug in slugs))


async def lookup_article(
    request: Request,
    key: str,
    slug: str,
    load: cached_answers.Load,
    personal: cached_answers.PersonalPart,
) -> CachedBytes:
    """``lookup`` for the article at ``slug``, whose absence is kept too: a slug that names no
    published article answers 404 from the cache until a write makes it name one (creating,
    renaming, publishing an article invalidates ``blog:article:<slug>``), so a flood of
    requests for missing articles costs no SQL either."""
    return await cached_answers.lookup(
        request,
        f"{key}:{LAYOUT}",
        [article_tag(slug), AUTHORS_TAG],
        load,
        ttl=TTL_SECONDS,
        missing=ArticleNotFound,
        personal=personal,
    )


# --- a signed-in reader's flags ------------------------------------------------------------------


def ids_meta(articles: Sequence[schemas.ArticleSummary]) -> dict[str, list[str]]:
    """The ``meta`` naming the articles an entry shows and their authors, in the answer's
    order: what ``overlay`` reads the reader's flags of, without decoding the answer."""
    return {
        ARTICLE_IDS: [str(article.id) for article in articles],
        AUTHOR_IDS: [str(article.author_id) for article in articles],
    }


def article_meta(article: schemas.ArticleSummary) -> dict[str, Any]:
    """The ``meta`` of one article's entry: its anonymous ETag, its ids, and the two facts
    that make the ETag a reader sees (``ArticleSummary.etag``): its version and its count."""
    return {
        "etag": article.etag,
        "version": article.version,
        "favorites_count": article.favorites_count,
        **ids_meta([article]),
    }


Articles = Callable[[Any], list[dict[str, Any]]]
"""Where a decoded answer's articles are: the answer itself, a page's ``items``..."""


def one_article(document: Any) -> list[dict[str, Any]]:
    """The articles of a blog article's answer: the answer itself."""
    return [document]


def page_items(document: Any) -> list[dict[str, Any]]:
    """The articles of a blog page's answer: its ``items``."""
    items: list[dict[str, Any]] = document["items"]
    return items


def flags(articles: Articles) -> cached_answers.PersonalPart:
    """A reader's flags over a shared entry made with ``ids_meta`` or ``article_meta``: which
    of its articles they favorited and which of its authors they follow, read by one statement
    (``repository.articles.reader_flags``), then set on each of ``articles(answer)``. Give it
    to ``lookup`` (for the edge cache) and, with the reader's id, to
    ``cached_answers.respond_private``.

    The ETag: one article's is exactly ``ArticleSummary.etag`` as this reader would get it from
    the database (so an ``If-Match`` copied from it guards an edit); a list's is the entry's
    version with the reader's flags (none when the cache had no version to give)."""

    def overlay(reader_id: uuid.UUID) -> cached_answers.Overlay:
        async def read(connection: AsyncConnection, cached: CachedBytes) -> cached_answers.Personal:
            article_ids = [_uuid(value) for value in cached.meta[ARTICLE_IDS]]
            author_ids = [_uuid(value) for value in cached.meta[AUTHOR_IDS]]
            favorited, followed = await reader_flags(connection, reader_id, article_ids, author_ids)
            pairs = [
                (article_id in favorited, author_id in followed)
                for article_id, author_id in zip(article_ids, author_ids, strict=True)
            ]

            def apply(document: Any) -> None:
                for article, (is_favorited, is_following) in zip(
                    articles(document), pairs, strict=True
                ):
                    article["favorited"] = is_favorited
                    article["author"]["following"] = is_following

            return cached_answers.Personal(etag=_etag(cached, pairs), apply=apply)

        return read

    return overlay


PAGE_FLAGS = flags(page_items)
"""A reader's flags over a blog page (``GET /api/v1/articles``)."""
ARTICLE_FLAGS = flags(one_article)
"""A reader's flags over a blog article (``GET /api/v1/articles/{slug}``)."""


@functools.lru_cache(maxsize=4096)
def _uuid(value: str) -> uuid.UUID:
    """The id in ``value``: the same popular entries' ids come with every request, and parsing
    one costs more than a lookup (1.3 µs: 50 µs for a page of 20 articles and authors)."""
    return uuid.UUID(value)


def _etag(cached: CachedBytes, flags: list[tuple[bool, bool]]) -> str:
    if "version" in cached.meta:  # one article: ArticleSummary.etag
        (is_favorited, is_following) = flags[0]
        return make_etag(
            cached.meta["version"], cached.meta["favorites_count"], is_favorited, is_following
        )
    if not cached.version:
        return ""
    return make_etag(cached.version, *(flag for pair in flags for flag in pair))


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
