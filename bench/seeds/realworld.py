"""The RealWorld adapter's seed: 20 users and 1,000 published articles with two tags each,
for ``realworld-list``, ``realworld-list-auth``, ``realworld-article``, ``realworld-404`` and
``realworld-login``, written once and shared by the five.

Rows are bulk-inserted (the invariants the blog's services keep are kept: unique slugs, the
rendered ``body_html``, tag positions); the users share one password whose Argon2id hash the
harness computes once with the server's own parameters, so that ``realworld-login`` verifies a
real hash of the production cost.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from bench.errors import BenchError
from bench.seeds.accounts import insert_users
from bench.seeds.context import SeedContext

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

REALWORLD_USERS = 20
REALWORLD_ARTICLES = 1000
REALWORLD_TAGS = tuple(f"rw-tag-{n}" for n in range(20))
PASSWORD = "one password for every RealWorld bench user"  # noqa: S105 - bench users only
PREFIX = "bench_rw"
BODY = "## A RealWorld article\n\nWith **Markdown**, a [link](https://example.com) and a list:\n\n"
BODY += "\n".join(f"{n}. item {n}" for n in range(1, 6))


def email_of(name: str) -> str:
    """The address ``insert_users`` gives a bench user."""
    return f"{name}@bench.example.com"


async def seed_realworld(ctx: SeedContext) -> dict[str, str]:
    """The users and their articles; returns the first user's email, the password, a token
    (signed in through the RealWorld API, as a client does) and one article's slug."""
    from sqlalchemy import select

    from mainspring.accounts.models import User
    from mainspring.blog.models import Article
    from mainspring.core.passwords import PasswordHasher

    names = [f"{PREFIX}_{n}" for n in range(REALWORLD_USERS)]
    async with ctx.session() as session:
        if await session.scalar(select(User.id).where(User.username == names[0])) is None:
            password_hash = await PasswordHasher.from_settings(ctx.settings()).hash(PASSWORD)
            await insert_users(session, names, password_hash)
            await _seed_articles(session, names)
        slug = await session.scalar(
            select(Article.slug).where(Article.slug.like(f"{PREFIX}-%")).limit(1)
        )
    if slug is None:
        raise BenchError("realworld: the seed wrote no article")
    email = email_of(names[0])
    login = await ctx.client.post(
        "/realworld/api/users/login", json={"user": {"email": email, "password": PASSWORD}}
    )
    if login.status_code != 200:
        raise BenchError(f"realworld: signing in answered {login.status_code}: {login.text[:300]}")
    return {
        "token": str(login.json()["user"]["token"]),
        "slug": slug,
        "email": email,
        "password": PASSWORD,
    }


async def _seed_articles(session: AsyncSession, names: list[str]) -> None:
    from sqlalchemy import insert, select

    from mainspring.accounts.models import User
    from mainspring.blog.models import Article, ArticleStatus, ArticleTag, Tag
    from mainspring.core.db import utcnow, uuid7
    from mainspring.core.markdown import render_markdown

    authors = list((await session.scalars(select(User.id).where(User.username.in_(names)))).all())
    tag_ids = {name: uuid7() for name in REALWORLD_TAGS}
    await session.execute(insert(Tag), [{"id": id_, "name": n} for n, id_ in tag_ids.items()])
    body_html, now = render_markdown(BODY), utcnow()
    articles, taggings = [], []
    for n in range(REALWORLD_ARTICLES):
        article_id, published = uuid7(), now - timedelta(minutes=n)
        articles.append(
            {
                "id": article_id,
                "author_id": authors[n % len(authors)],
                "slug": f"{PREFIX}-article-{n}",
                "title": f"RealWorld article {n}",
                "description": f"The description of article {n}.",
                "body": BODY,
                "body_html": body_html,
                "status": ArticleStatus.PUBLISHED,
                "published_at": published,
                "created_at": published,
                "updated_at": published,
                "favorites_count": 0,
                "comment_seq": 0,
                "version": 1,
            }
        )
        for position in range(2):
            tag = REALWORLD_TAGS[(n + position * 7) % len(REALWORLD_TAGS)]
            taggings.append(
                {"article_id": article_id, "tag_id": tag_ids[tag], "position": position}
            )
    await session.execute(insert(Article), articles)
    await session.execute(insert(ArticleTag), taggings)
