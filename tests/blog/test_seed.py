"""``seed_demo``: demo articles that the API serves like any other, with consistent counters."""

from __future__ import annotations

import random

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from mainspring.accounts.models import User
from mainspring.blog.models import Article, Comment, Favorite
from mainspring.blog.seed import seed_demo
from tests.blog.writers import ARTICLES, Writers


async def test_seeded_articles_are_consistent_and_served(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    for name in ("ada", "bob", "cat"):
        await writer(name)
    async with app.state.db.session() as session:
        users = list((await session.scalars(select(User))).all())
        await seed_demo(session, users, random.Random(7), 40)
        await seed_demo(session, users, random.Random(7), 10)  # again: more, no clashes
    async with app.state.db.session() as session:
        assert await session.scalar(select(func.count(Article.id))) == 50
        articles = list((await session.scalars(select(Article))).all())
        favorites = dict(
            (
                await session.execute(
                    select(Favorite.article_id, func.count()).group_by(Favorite.article_id)
                )
            ).all()
        )
        numbers = dict(
            (
                await session.execute(
                    select(Comment.article_id, func.max(Comment.number)).group_by(
                        Comment.article_id
                    )
                )
            ).all()
        )
    for article in articles:
        assert article.favorites_count == favorites.get(article.id, 0)
        assert article.comment_seq == (numbers.get(article.id) or 0)
    assert len({article.slug for article in articles}) == 50

    listed = (await client.get(ARTICLES, params={"limit": 100})).json()["items"]
    assert 40 <= len(listed) <= 50  # a few are drafts
    published = [a for a in articles if a.status == "published"]
    assert len(listed) == len(published)
    one = (await client.get(f"{ARTICLES}/{listed[0]['slug']}")).json()
    assert one["body_html"].startswith("<")
    assert (await client.get(ARTICLES, params={"q": "lessons"})).status_code == 200
    tags = (await client.get("/api/v1/tags")).json()
    assert tags["total"] > 0
