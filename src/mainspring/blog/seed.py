"""Demo data for the blog: ``size`` articles by the demo users, with Markdown bodies, tags,
comments with replies, and favorites.

Rows are written with bulk INSERTs (a thousand at a time) rather than through the services, so
that a benchmark's tens of thousands of articles take seconds; the invariants the services keep
are kept here too: slugs are unique, ``body_html`` is the rendered body, tags keep their
positions, ``favorites_count`` counts the favorite rows, comments are numbered 1..n per article
(``comment_seq`` is n) and a reply's thread is its parent's. Most articles are published, over
the last year; a few are drafts.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.blog.caching import articles_changed
from mainspring.blog.models import Article, ArticleStatus, ArticleTag, Comment, Favorite, Tag
from mainspring.blog.slugs import slugify
from mainspring.core.db import utcnow, uuid7
from mainspring.core.markdown import render_markdown

CHUNK = 1000
SUBJECTS = (
    "dragons", "sourdough", "PostgreSQL indexes", "mountain trails", "async Python",
    "tiny gardens", "typography", "chess openings", "home networks", "jazz standards",
)  # fmt: skip
TITLES = (
    "A field guide to {s}",
    "What I got wrong about {s}",
    "{s}: the first ten hours",
    "Why {s} matter more than you think",
    "Notes on {s}",
)
DESCRIPTIONS = (
    "Lessons learned the hard way.",
    "A short introduction for the curious.",
    "Everything I wish I had known a year ago.",
)
PARAGRAPHS = (
    "Start small. The **first step** is the one that teaches the most.",
    "There are three things to watch:\n\n1. the *basics*,\n2. the tools,\n3. the habits.",
    "Read [the reference](https://example.com/reference) before the tutorials.",
    "> Simple things should be simple, complex things should be possible.",
    "A quick example:\n\n```python\nprint('hello')\n```",
    "| step | time |\n|---|---:|\n| prepare | 10 min |\n| wait | 1 h |",
)
TAGS = (
    "python", "databases", "outdoors", "cooking", "design", "games", "music", "howto",
    "opinion", "beginners", "networking", "fantasy",
)  # fmt: skip
COMMENTS = (
    "Thank you, this helped a lot!",
    "I disagree with the *second* point.",
    "Could you write a follow-up?",
    "Bookmarked.",
)
DRAFT_SHARE = 0.05


async def seed_demo(
    session: AsyncSession, users: Sequence[User], rng: random.Random, size: int
) -> None:
    """Create ``size`` articles by ``users`` (nothing without users), with their tags,
    comments and favorites. Writes in the caller's transaction (never commits); seeding again
    adds more articles."""
    if not users or size <= 0:
        return
    blog = _Blog(users, rng, utcnow())
    known = await session.execute(select(Tag.name, Tag.id).where(Tag.name.in_(TAGS)))
    blog.tag_ids.update(dict(known.all()))
    missing = {name: uuid7() for name in TAGS if name not in blog.tag_ids}
    blog.tag_ids.update(missing)
    titles = {slugify(title.format(s=subject)) for title in TITLES for subject in SUBJECTS}
    taken = await session.scalars(select(Article.slug).where(Article.slug.in_(titles)))
    blog.slugs.update(taken.all())
    for _ in range(size):
        blog.write()
    await _insert(session, Tag, [{"id": id_, "name": name} for name, id_ in missing.items()])
    await _insert(session, Article, blog.articles)
    await _insert(session, ArticleTag, blog.taggings)
    await _insert(session, Comment, blog.comments)
    await _insert(session, Favorite, blog.favorites)
    articles_changed(session)  # cached lists (a running server's) are stale once this commits


class _Blog:
    """The rows of the demo blog, built in memory, then inserted in bulk."""

    def __init__(self, users: Sequence[User], rng: random.Random, now: datetime) -> None:
        self.users, self.rng, self.now = users, rng, now
        self.tag_ids: dict[str, uuid.UUID] = {}
        self.rendered: dict[str, str] = {}
        self.slugs: set[str] = set()
        self.articles: list[dict[str, Any]] = []
        self.taggings: list[dict[str, Any]] = []
        self.comments: list[dict[str, Any]] = []
        self.favorites: list[dict[str, Any]] = []

    def _html(self, markdown: str) -> str:
        if markdown not in self.rendered:
            self.rendered[markdown] = render_markdown(markdown)
        return self.rendered[markdown]

    def _slug(self, title: str, article_id: uuid.UUID) -> str:
        """The title's slug, or (when taken) with the random end of the article's id."""
        slug = slugify(title)
        if slug in self.slugs:
            slug = f"{slug}-{article_id.hex[-8:]}"
        self.slugs.add(slug)
        return slug

    def write(self) -> None:
        rng = self.rng
        author = self.users[len(self.articles) % len(self.users)]
        title = rng.choice(TITLES).format(s=rng.choice(SUBJECTS))
        title = title[0].upper() + title[1:]
        body = "\n\n".join(rng.sample(PARAGRAPHS, k=rng.randint(2, 4)))
        created = self.now - timedelta(minutes=rng.randint(60, 525_600))
        draft = rng.random() < DRAFT_SHARE
        article_id = uuid7()
        comments = [] if draft else self._comments(article_id, created)
        fans = [] if draft else rng.sample(self.users, k=rng.randint(0, min(5, len(self.users))))
        self.articles.append(
            {
                "id": article_id,
                "author_id": author.id,
                "slug": self._slug(title, article_id),
                "title": title,
                "description": rng.choice(DESCRIPTIONS),
                "body": body,
                "body_html": self._html(body),
                "status": ArticleStatus.DRAFT if draft else ArticleStatus.PUBLISHED,
                "publish_at": None,
                "published_at": None if draft else created,
                "favorites_count": len(fans),
                "comment_seq": len(comments),
                "version": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
        for position, name in enumerate(rng.sample(TAGS, k=rng.randint(1, 3))):
            self.taggings.append(
                {"article_id": article_id, "tag_id": self.tag_ids[name], "position": position}
            )
        self.comments += comments
        self.favorites += [
            {"user_id": fan.id, "article_id": article_id, "created_at": created} for fan in fans
        ]

    def _comments(self, article_id: uuid.UUID, after: datetime) -> list[dict[str, Any]]:
        """0-4 comments, some of them replies to an earlier top-level one."""
        rows: list[dict[str, Any]] = []
        for number in range(1, self.rng.randint(0, 4) + 1):
            parent = self.rng.choice([None, *[r for r in rows if r["parent_id"] is None]])
            body = self.rng.choice(COMMENTS)
            at = after + timedelta(minutes=number * 7)
            rows.append(
                {
                    "id": uuid7(),
                    "article_id": article_id,
                    "author_id": self.rng.choice(self.users).id,
                    "parent_id": parent["id"] if parent else None,
                    "number": number,
                    "thread_number": parent["number"] if parent else number,
                    "body": body,
                    "body_html": self._html(body),
                    "created_at": at,
                    "updated_at": at,
                }
            )
        return rows


async def _insert(session: AsyncSession, model: type[Any], rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        await session.execute(insert(model), rows[start : start + CHUNK])
