"""The social network's seeds: the network of ``home-timeline``, the posters of ``create-post``."""

from __future__ import annotations

import math

from bench.seeds.accounts import insert_users, register_and_sign_in, sign_in_users
from bench.seeds.context import SeedContext, SeedValue

SOCIAL_READER = {
    "email": "reader@bench.example.com",
    "username": "bench_reader",
    "password": "a reader of ten thousand timelines",
}
SOCIAL_USERS_PER_SIZE_UNIT = 10
SOCIAL_SIZE_UNITS_PER_SEED_SIZE = 3
"""The home timeline scenario sees ``--size`` x 10 users and about ``--size`` x 100 posts:
10 000 users and 100 000 posts with the default size (``seed_demo`` writes 300 per size)."""

POSTS_PER_SECOND_CEILING = 600
"""Posts a second that one server worker is taken never to reach; the pool of posters is sized
for it. One worker measured about 190 on either database (docs/performance.md): three times."""
QUOTA_SLACK = 4
"""Posts of each poster's quota kept aside: the probe's two (both by the first poster), and one
for each of the warm-up and the load, whose round-robin each starts again at the first poster."""


async def seed_social_network(ctx: SeedContext) -> dict[str, str]:
    """A signed-in reader inside a network of 10 000 users and 100 000 posts (default size);
    returns the reader's access token.

    The reader registers and signs in over HTTP; the other users (without passwords: they never
    sign in) and ``mainspring.social.seed.seed_demo``'s follows, posts, likes and notifications
    go straight into the database.
    """
    import random

    from sqlalchemy import select

    from mainspring.accounts.models import User
    from mainspring.social.seed import seed_demo

    token = await register_and_sign_in(ctx, SOCIAL_READER, "home-timeline")
    async with ctx.session() as session:
        names = [f"bench_social_{i}" for i in range(ctx.size * SOCIAL_USERS_PER_SIZE_UNIT)]
        await insert_users(session, names)
        # Only this scenario's users: other seeds may share the database.
        own = select(User).where(User.username.in_([*names, SOCIAL_READER["username"]]))
        users = list((await session.scalars(own)).all())
        size = max(1, ctx.size // SOCIAL_SIZE_UNITS_PER_SEED_SIZE)
        await seed_demo(session, users, random.Random(2026), size)
    return {"token": token}


def posters_needed(posts_per_second: float, seconds: int, quota: int, window: float) -> int:
    """Users enough to post ``posts_per_second`` for ``seconds`` without any of them posting
    more than ``quota`` (less ``QUOTA_SLACK``) within a moving ``window`` of seconds.

    Spread round-robin, each user posts once every ``posters / posts_per_second`` seconds; a
    window holds at most ``min(seconds, window)`` seconds of the run.
    """
    usable = quota - QUOTA_SLACK
    if usable < 1:
        raise ValueError(f"a quota of {quota} leaves nothing to measure with")
    return max(1, math.ceil(posts_per_second * min(seconds, window) / usable))


async def seed_posters(ctx: SeedContext) -> dict[str, SeedValue]:
    """A pool of signed-in users, enough for ``create-post`` to post for the whole run without
    meeting the per-user limit of posting (``POSTS_PER_MINUTE``, a product rule that stays);
    returns their access tokens, which wrk takes in turn, one per request.

    The pool is sized for ``POSTS_PER_SECOND_CEILING`` per worker over the run's warm-up and
    load: 277 users for the default 12 s. A server faster than that would meet the limit, and
    its 429s count as errors, as any other unexpected status does.
    """
    from mainspring.core.ratelimit import parse_limit
    from mainspring.social.deps import POSTS_PER_MINUTE

    limit = parse_limit(POSTS_PER_MINUTE)
    count = posters_needed(
        POSTS_PER_SECOND_CEILING * ctx.workers, ctx.seconds, limit.amount, limit.get_expiry()
    )
    return {"token": await sign_in_users(ctx, "bench_poster", count, "create-post")}
