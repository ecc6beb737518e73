"""The shortener's seed: the links of ``redirect-cached`` and ``redirect-uncached``, and the
signed-in creators of ``create-link``."""

from __future__ import annotations

import math

from bench.errors import BenchError
from bench.seeds.accounts import insert_users, sign_in_users
from bench.seeds.context import SeedContext
from bench.seeds.social import posters_needed

SHORTENER_OWNERS = 10
LINKS_PER_SIZE_UNIT = 10
"""``redirect-cached`` follows one of ``--size`` x 10 links (10 000 with the default size)."""
UNCACHED_REDIRECTS_PER_SECOND_CEILING = 5000
"""Uncached redirects a second one worker is taken never to reach: the pool of codes is sized
so that no code is followed twice in a run (each follow fills the LRU and the kernel cache)."""
CREATES_PER_SECOND_CEILING = 600
"""Links a second one worker is taken never to create; the pool of creators is sized for it."""


async def seed_links(ctx: SeedContext) -> dict[str, str]:
    """``--size`` x 10 links of a few owners (``mainspring.shortener.seed``, with tags and
    clicks); returns the code of a plain link (enabled, no password, limit or expiry)."""
    codes = await _links(ctx, "bench_links", ctx.size * LINKS_PER_SIZE_UNIT)
    return {"code": codes[0]}


async def seed_uncached_links(ctx: SeedContext) -> dict[str, tuple[str, ...]]:
    """As many plain links as the run could follow at the ceiling, each once: a pool wrk takes
    in turn, so that every request misses the process's LRU (and, past the kernel cache's
    1 000 entries, the cache too) and reads the database."""
    count = math.ceil(UNCACHED_REDIRECTS_PER_SECOND_CEILING * max(ctx.seconds, 1) * ctx.workers)
    codes = await _links(ctx, "bench_uncached", count)
    return {"code": tuple(codes[:count])}


async def seed_link_creators(ctx: SeedContext) -> dict[str, tuple[str, ...]]:
    """Signed-in users enough to create links at the ceiling without meeting the per-user
    creation limit (``MAINSPRING_SHORTENER_CREATE_LIMIT``, 30 a minute by default); their
    tokens, which wrk takes in turn."""
    from mainspring.core.ratelimit import parse_limit
    from mainspring.shortener.settings import ShortenerSettings

    limit = parse_limit(ShortenerSettings.model_fields["create_limit"].default)
    count = posters_needed(
        CREATES_PER_SECOND_CEILING * ctx.workers, ctx.seconds, limit.amount, limit.get_expiry()
    )
    return {"token": await sign_in_users(ctx, "bench_linker", count, "create-link")}


async def _links(ctx: SeedContext, prefix: str, count: int) -> list[str]:
    """The codes of ``count`` plain 302 links of ``SHORTENER_OWNERS`` users named
    ``<prefix>_<n>``, written on first use (scenarios sharing a database share them)."""
    import random

    from sqlalchemy import select

    from mainspring.accounts.models import User
    from mainspring.shortener.models import Link
    from mainspring.shortener.seed import insert_links

    names = [f"{prefix}_{n}" for n in range(SHORTENER_OWNERS)]
    async with ctx.session() as session:
        owners = list((await session.scalars(select(User).where(User.username.in_(names)))).all())
        if not owners:
            await insert_users(session, names)
            owners = list(
                (await session.scalars(select(User).where(User.username.in_(names)))).all()
            )
        plain = (
            select(Link.code)
            .where(
                Link.owner_id.in_([owner.id for owner in owners]),
                Link.enabled.is_(True),
                Link.redirect_type == 302,
                Link.expires_at.is_(None),
                Link.max_clicks.is_(None),
                Link.password_hash.is_(None),
            )
            .limit(count)
        )
        codes = list((await session.scalars(plain)).all())
        if len(codes) < count:  # about two links in three of the demo's are plain 302s
            await insert_links(session, owners, random.Random(2026), (count - len(codes)) * 8 // 5)
            codes = list((await session.scalars(plain)).all())
    if len(codes) < count:
        raise BenchError(f"{prefix}: the seed wrote {len(codes)} plain links of {count}")
    return codes
