"""The blog's seed: the authors and articles of ``article-list``, ``single-article`` and
``article-feed``, written once and shared by the three."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.errors import BenchError
from bench.seeds.accounts import insert_users, register_and_sign_in
from bench.seeds.context import SeedContext

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

BLOG_READER = {
    "email": "blog-reader@bench.example.com",
    "username": "bench_blog_reader",
    "password": "a reader of ten thousand articles",
}
BLOG_AUTHORS_PER_SIZE_UNIT = 1
BLOG_ARTICLES_PER_SIZE_UNIT = 10
BLOG_FOLLOWED_AUTHORS = 50
"""The blog scenarios see ``--size`` authors and ``--size`` x 10 articles (1 000 authors and
10 000 articles with the default size); the reader follows 50 of the authors."""


async def seed_blog(ctx: SeedContext) -> dict[str, str]:
    """A signed-in reader, authors with published articles, comments and favorites (written
    by ``mainspring.blog.seed.seed_demo``), follows for the feed; returns the reader's token
    and one article's slug."""
    from sqlalchemy import select

    from mainspring.accounts.models import User
    from mainspring.blog.models import Article

    token = await register_and_sign_in(ctx, BLOG_READER, "blog")
    async with ctx.session() as session:
        names = [f"bench_author_{i}" for i in range(ctx.size * BLOG_AUTHORS_PER_SIZE_UNIT)]
        seeded = await session.scalar(select(User.id).where(User.username == names[0]))
        if seeded is None:  # the blog scenarios share one database and one seed
            await _seed_authors(session, names)
        slug = await session.scalar(
            select(Article.slug).where(Article.status == "published").limit(1)
        )
    if slug is None:
        raise BenchError("blog: the seed published no article")
    return {"token": token, "slug": slug}


async def seed_storm_reader(ctx: SeedContext) -> dict[str, str]:
    """The blog reader, registered and signed in once: the account ``login-storm-*`` scenarios
    sign in with, over and over."""
    await register_and_sign_in(ctx, BLOG_READER, "login-storm")
    return {}


async def _seed_authors(session: AsyncSession, names: list[str]) -> None:
    """Authors, their articles (with comments and favorites), and the reader's follows."""
    import random

    from sqlalchemy import insert, select

    from mainspring.accounts.models import User
    from mainspring.blog.seed import seed_demo
    from mainspring.social.models import Follow

    await insert_users(session, names)
    authors = list((await session.scalars(select(User).where(User.username.in_(names)))).all())
    rng = random.Random(2026)
    await seed_demo(session, authors, rng, len(names) * BLOG_ARTICLES_PER_SIZE_UNIT)
    reader = await session.scalar(select(User.id).where(User.username == BLOG_READER["username"]))
    followed = rng.sample(authors, min(BLOG_FOLLOWED_AUTHORS, len(authors)))
    await session.execute(
        insert(Follow),
        [{"follower_id": reader, "followee_id": author.id} for author in followed],
    )
