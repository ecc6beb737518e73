"""Timing the home timeline on a large network: the measurements behind fan-out on read.

Run it against an empty database it may fill (it migrates it first)::

    .venv/bin/python -m tests.social.timeline_benchmark sqlite+aiosqlite:////tmp/timeline.db
    .venv/bin/python -m tests.social.timeline_benchmark postgresql+asyncpg://user@host/db

It creates 10 000 users and ``seed_demo``'s network among them (about 100 000 posts), then
times, in the process and without HTTP:

- the home timeline's first slice and a deep slice (``TimelineRepository.home``), for a sample
  of users and for a user who follows 2 000 people;
- creating a post (``post_service.create``, rolled back);
- what fan-out on write would add to creating a post: one timeline row per follower, measured
  as ``INSERT INTO <temp table> SELECT follower_id ... FROM follows`` for a median author and
  for the most-followed one.

The figures go to ``docs/architecture.md`` ("Social: timelines"). It is not a test: it never
runs in the suite.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import Column, MetaData, Table, Uuid, delete, func, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.app import create_app
from mainspring.core import migrations
from mainspring.core.db import Database
from mainspring.core.pagination import CursorCodec, CursorSlice
from mainspring.social.models import Block, Follow, Post
from mainspring.social.posts.service import post_service
from mainspring.social.schemas import PostCreate
from mainspring.social.seed import seed_demo
from mainspring.social.timelines.repository import TimelineRepository
from tests.conftest import make_settings

USERS = 10_000
SEED_SIZE = 334  # x 300 posts
SAMPLE = 50
HEAVY = 2_000
"""One more user follows this many: the worst case of fan-out on read."""
SLICE = 20


async def _timed(repeat: int, run: Callable[[], Awaitable[Any]]) -> tuple[float, float]:
    """Median and 95th percentile of ``repeat`` runs, in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


async def _seed(session: AsyncSession, rng: random.Random) -> None:
    rows = [
        {
            "id": uuid.uuid4(),
            "email": f"user{i}@example.com",
            "username": f"user{i}",
            "username_key": f"user{i}",
            "display_name": f"User {i}",
        }
        for i in range(USERS)
    ]
    for start in range(0, len(rows), 2000):
        await session.execute(insert(User), rows[start : start + 2000])
    users = list((await session.scalars(select(User))).all())
    started = time.perf_counter()
    await seed_demo(session, users, rng, SEED_SIZE)
    print(f"seeded in {time.perf_counter() - started:.1f} s")


async def _fill(database: Database) -> None:
    rng = random.Random(42)
    async with database.session() as session:
        if not await session.scalar(select(func.count()).select_from(Post)):
            await _seed(session, rng)
    async with database.session() as session:
        if not await session.scalar(select(User.id).where(User.username_key == "heavy")):
            heavy = uuid.uuid4()
            await session.execute(
                insert(User).values(
                    id=heavy,
                    email="heavy@example.com",
                    username="heavy",
                    username_key="heavy",
                    display_name="Follows many",
                )
            )
            followees = rng.sample(list((await session.scalars(select(User.id))).all()), HEAVY)
            rows = [{"follower_id": heavy, "followee_id": f} for f in followees if f != heavy]
            await session.execute(insert(Follow), rows)
    if database.dialect == "postgresql":
        async with database.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
    else:
        async with database.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))


async def _report(database: Database) -> None:
    codec = CursorCodec("benchmark")
    rng = random.Random(7)
    async with database.read_session() as session:
        posts = await session.scalar(select(func.count()).select_from(Post))
        follows = await session.scalar(select(func.count()).select_from(Follow))
        users = list((await session.scalars(select(User.id))).all())
        followees = func.count().label("n")
        busiest = (
            await session.execute(
                select(Follow.follower_id, followees)
                .group_by(Follow.follower_id)
                .order_by(followees.desc())
                .limit(1)
            )
        ).one()
        followers = (
            select(func.count().label("n"))
            .select_from(Follow)
            .group_by(Follow.followee_id)
            .order_by(text("n"))
        )
        counts = list((await session.scalars(followers)).all())
        celebrity = (
            await session.execute(
                select(Follow.followee_id, func.count().label("n"))
                .group_by(Follow.followee_id)
                .order_by(text("n DESC"))
                .limit(1)
            )
        ).one()
    median_author_followers = counts[len(counts) // 2]
    print(f"{database.dialect}: {len(users)} users, {posts} posts, {follows} follows")
    print(
        f"  most followees: {busiest.n}; followers median {median_author_followers}, "
        f"max {celebrity.n}"
    )

    sample = rng.sample(users, SAMPLE)

    async def first_slices() -> None:
        for user_id in sample:
            async with database.read_session() as session:
                await TimelineRepository(session).home(user_id, CursorSlice(SLICE, None, codec))

    async def deep_slices() -> None:
        for user_id in sample:
            async with database.read_session() as session:
                repository = TimelineRepository(session)
                cursor = None
                for _ in range(5):
                    _, cursor = await repository.home(user_id, CursorSlice(SLICE, cursor, codec))

    async def busiest_first() -> None:
        async with database.read_session() as session:
            await TimelineRepository(session).home(
                busiest.follower_id, CursorSlice(SLICE, None, codec)
            )

    median, p95 = await _timed(3, first_slices)
    print(f"  home, first slice of {SLICE}: {median / SAMPLE:.2f} ms per user (median of runs)")
    median, p95 = await _timed(3, deep_slices)
    print(f"  home, slices 1-5: {median / SAMPLE / 5:.2f} ms per slice")
    median, p95 = await _timed(20, busiest_first)
    print(f"  home of the user following {busiest.n}: median {median:.2f} ms, p95 {p95:.2f} ms")

    async with database.session() as session:  # one block: the visibility rule applies
        stranger = next(u for u in users if u != busiest.follower_id)
        await session.execute(
            insert(Block).values(blocker_id=busiest.follower_id, blocked_id=stranger)
        )
    median, p95 = await _timed(20, busiest_first)
    print(f"  same, with one block: median {median:.2f} ms, p95 {p95:.2f} ms")
    async with database.session() as session:
        await session.execute(delete(Block).where(Block.blocker_id == busiest.follower_id))

    async def create_post() -> None:
        author = rng.choice(users)
        async with database.sessionmaker() as session:
            await session.begin()
            await post_service.create(
                session, author, PostCreate(body="Timing #python posts with @user1")
            )
            await session.rollback()

    median, p95 = await _timed(50, create_post)
    print(f"  create a post (fan-out on read): median {median:.2f} ms, p95 {p95:.2f} ms")

    fanout = Table(
        "fanout",
        MetaData(),
        Column("owner_id", Uuid()),
        Column("post_id", Uuid()),
        prefixes=["TEMPORARY"],
    )
    median_author = await _scalar(
        database,
        select(Follow.followee_id)
        .group_by(Follow.followee_id)
        .having(func.count() == median_author_followers)
        .limit(1),
    )
    for label, author in (
        (f"median author ({median_author_followers} followers)", median_author),
        (f"most-followed author ({celebrity.n} followers)", celebrity.followee_id),
    ):

        async def fan_out(author: uuid.UUID = author) -> None:
            async with database.engine.begin() as conn:
                await conn.run_sync(fanout.create)
                await conn.execute(
                    insert(fanout).from_select(
                        ["owner_id", "post_id"],
                        select(Follow.follower_id, literal(uuid.uuid4(), Uuid())).where(
                            Follow.followee_id == author
                        ),
                    )
                )
                await conn.run_sync(fanout.drop)

        median, p95 = await _timed(20, fan_out)
        print(f"  fan-out on write, {label}: median {median:.2f} ms extra per post")


async def _scalar(database: Database, stmt: Any) -> Any:
    async with database.read_session() as session:
        return await session.scalar(stmt)


async def main(url: str) -> None:
    settings = make_settings(url, redis_url=None)
    await asyncio.to_thread(migrations.upgrade, settings)
    app = create_app(settings)  # the app wires the kernel services into its sessions
    async with app.router.lifespan_context(app):
        await _fill(app.state.db)
        await _report(app.state.db)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
