"""Demo data for the shortener: ``size`` links of the demo users, with tags, a few aliases,
options of every kind, and a month of clicks on the first links.

Rows are written with bulk INSERTs (thousands at a time), not through the service, so that a
benchmark's tens of thousands of links take seconds; what the service keeps true is kept here
too: code keys are the lower-case codes and unique, targets are normalised, ``clicks`` counts
the click rows, visitors are 32-hex hashes. Codes come from the seeded generator, so a demo is
reproducible.
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
from mainspring.core.db import utcnow, uuid7
from mainspring.shortener.codes import BASE62
from mainspring.shortener.models import Click, Link, LinkTag

CHUNK = 2000
CODE_LENGTH = 7
CLICKED_LINKS = 40
"""Links that get a month of clicks (the others start at zero, as most links do)."""
TARGETS = (
    "https://example.com/spring/sale",
    "https://example.org/blog/how-we-ship",
    "https://docs.example.net/getting-started",
    "https://shop.example.com/products/42?utm_source=newsletter",
    "https://events.example.org/2026/keynote",
    "https://example.com/jobs/backend-engineer",
)
TAGS = ("newsletter", "social", "launch", "docs", "events", "hiring")
ALIASES = ("spring-sale", "keynote", "we-are-hiring", "docs-start")
AGENTS = (("Chrome", "desktop"), ("Safari", "mobile"), ("Firefox", "desktop"), ("Bot", "bot"))
REFERRERS = (None, "news.example.com", "social.example.net", "mail.example.org")


async def seed_demo(
    session: AsyncSession, users: Sequence[User], rng: random.Random, size: int
) -> None:
    """Create ``size`` links owned by ``users`` in the caller's transaction (never commits)."""
    await insert_links(session, users, rng, size)


async def insert_links(
    session: AsyncSession, users: Sequence[User], rng: random.Random, size: int
) -> list[str]:
    """``seed_demo``'s links; returns their codes, plain links (no password, limit or expiry,
    enabled) first: the benchmark's seeds pick from them."""
    if not users or size <= 0:
        return []
    now = utcnow()
    codes = await _free_codes(session, rng, size)
    links: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    clicks: list[dict[str, Any]] = []
    for n, code in enumerate(codes):
        link_id = uuid7()
        created = now - timedelta(days=rng.randint(0, 90), seconds=rng.randint(0, 86_399))
        options = _options(n, rng, now)
        count = rng.randint(5, 60) if n < CLICKED_LINKS else 0
        links.append(
            {
                "id": link_id,
                "code": code,
                "code_key": code.lower(),
                "target_url": TARGETS[n % len(TARGETS)],
                "owner_id": users[n % len(users)].id,
                "title": f"Demo link {n + 1}",
                "redirect_type": 301 if n % 9 == 8 else 302,
                "enabled": n % 23 != 22,
                "clicks": count,
                "last_clicked_at": now if count else None,
                "preview_title": None,
                "preview_status": "none",
                "version": 1,
                "created_at": created,
                "updated_at": created,
                **options,
            }
        )
        tags += [{"link_id": link_id, "tag": tag} for tag in rng.sample(TAGS, k=rng.randint(0, 2))]
        clicks += [_click(link_id, now, rng) for _ in range(count)]
    for table, rows in ((Link, links), (LinkTag, tags), (Click, clicks)):
        for start in range(0, len(rows), CHUNK):
            await session.execute(insert(table), rows[start : start + CHUNK])
    plain = [row["code"] for row in links if _plain(row)]
    return plain + [row["code"] for row in links if not _plain(row)]


async def _free_codes(session: AsyncSession, rng: random.Random, size: int) -> list[str]:
    """``size`` codes no link has (the aliases first, while free), unique regardless of case."""
    codes: dict[str, str] = {}  # key -> code
    wanted = list(ALIASES[:size])
    while len(codes) < size:
        wanted += [
            "".join(rng.choice(BASE62) for _ in range(CODE_LENGTH))
            for _ in range(size - len(codes) - len(wanted))
        ]
        candidates = {code.lower(): code for code in wanted if code.lower() not in codes}
        keys = list(candidates)
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            taken = await session.scalars(select(Link.code_key).where(Link.code_key.in_(chunk)))
            for key in taken.all():
                candidates.pop(key, None)
        codes.update(candidates)
        wanted = []
    return list(codes.values())[:size]


def _options(n: int, rng: random.Random, now: datetime) -> dict[str, Any]:
    """Most links are plain; every few has an expiry, a click limit or a password."""
    options: dict[str, Any] = {"expires_at": None, "max_clicks": None, "password_hash": None}
    if n % 7 == 6:
        options["expires_at"] = now + timedelta(days=rng.randint(-5, 30))
    if n % 11 == 10:
        options["max_clicks"] = rng.randint(100, 1000)
    return options


def _plain(row: dict[str, Any]) -> bool:
    return bool(
        row["enabled"]
        and row["expires_at"] is None
        and row["max_clicks"] is None
        and row["password_hash"] is None
    )


def _click(link_id: uuid.UUID, now: datetime, rng: random.Random) -> dict[str, Any]:
    at = now - timedelta(days=rng.randint(0, 28), seconds=rng.randint(0, 86_399))
    browser, device = rng.choice(AGENTS)
    return {
        "id": uuid7(),
        "link_id": link_id,
        "clicked_at": at,
        "day": at.date(),
        "referrer_host": rng.choice(REFERRERS),
        "browser": browser,
        "device": device,
        "visitor": f"{rng.getrandbits(128):032x}",
    }
