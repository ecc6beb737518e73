"""``seed_demo``: a believable network whose counters agree with its rows."""

from __future__ import annotations

import random

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from mainspring.accounts.models import User
from mainspring.social.models import Like, Notification, Post, PostHashtag
from mainspring.social.seed import seed_demo
from tests.accounts.helpers import create_user, sign_in, unique_name


async def test_seed_demo_builds_a_consistent_network(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    created = [await create_user(app, username=unique_name("s")) for _ in range(6)]
    async with app.state.db.session() as session:
        users = list((await session.scalars(select(User))).all())
        await seed_demo(session, users, random.Random(1), size=1)

    async with app.state.db.read_session() as session:
        posts = list((await session.scalars(select(Post))).all())
        likes = dict(
            (await session.execute(select(Like.post_id, func.count()).group_by(Like.post_id))).all()
        )
        tagged = await session.scalar(select(func.count()).select_from(PostHashtag))
        notified = await session.scalar(select(func.count()).select_from(Notification))
    assert 200 <= len(posts) <= 300
    assert {post.kind for post in posts} == {"post", "reply", "quote", "repost"}
    assert tagged
    assert notified
    by_id = {post.id: post for post in posts}
    for post in posts:
        assert post.like_count == likes.get(post.id, 0)
        replies = [p for p in posts if p.reply_to_id == post.id]
        assert post.reply_count == len(replies)
        assert post.repost_count == len([p for p in posts if p.repost_of_id == post.id])
        if post.kind == "repost":
            assert post.repost_of_id is not None
            assert post.original_author_id == by_id[post.repost_of_id].author_id
        for reply in replies:
            assert reply.created_at > post.created_at

    # The seeded network serves the API like any other.
    reader = await sign_in(client, created[0])
    home = await client.get("/api/v1/timeline", params={"limit": 50}, headers=reader.headers)
    assert home.status_code == 200
    assert home.json()["items"]
