"""Demo data: ``mainspring seed --demo`` and the first ``make run`` on an empty database.

Users come first (through the accounts service, so every rule of registration holds); then each
module's ``seed_demo(session, users, rng, size)`` adds its own data among them, in one
transaction per module. ``size`` scales everything; the defaults make a small, readable demo,
and benchmarks pass larger factors. The random generator is seeded, so a demo is reproducible.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.progress import Progress
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.accounts.models import User
from mainspring.accounts.service.registration import registration_service
from mainspring.blog import seed as blog_seed
from mainspring.chat import seed as chat_seed
from mainspring.core.auth import Role
from mainspring.core.config import Settings
from mainspring.core.db import Database
from mainspring.core.passwords import PasswordHasher
from mainspring.shop import seed as shop_seed
from mainspring.shortener import seed as shortener_seed
from mainspring.social import seed as social_seed
from mainspring.todo import seed as todo_seed

DEMO_PASSWORD = "mainspring-demo-password"  # noqa: S105 - development demo data only
USERS_PER_SIZE = 10
ARTICLES_PER_SIZE = 30
TASKS_PER_SIZE = 60
PRODUCTS_PER_SIZE = 40
LINKS_PER_SIZE = 20
CHAT_MESSAGES_PER_SIZE = 40
FIRST_NAMES = (
    "ada", "alan", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances", "edsger",
    "radia", "guido", "katherine", "donald", "hedy", "tim", "annie", "john", "joan", "niklaus",
)  # fmt: skip

Seeder = Callable[[AsyncSession, Sequence[User], random.Random, int], Awaitable[None]]


@dataclass(frozen=True)
class DemoAccount:
    username: str
    email: str
    password: str
    role: str


class _DemoHasher(PasswordHasher):
    """Hashes the one demo password once: thousands of demo users cost one Argon2 run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hashes: dict[str, str] = {}

    async def hash(self, password: str) -> str:
        if password not in self._hashes:
            self._hashes[password] = await super().hash(password)
        return self._hashes[password]


async def database_is_empty(settings: Settings) -> bool:
    database = Database(settings)
    try:
        async with database.read_session() as session:
            return not await session.scalar(select(func.count()).select_from(User))
    finally:
        await database.dispose()


async def seed_demo(settings: Settings, size: int = 1, *, seed: int = 2026) -> list[DemoAccount]:
    """Create demo data scaled by ``size``; returns the accounts one can sign in with."""
    if settings.env == "production":
        raise RuntimeError("refusing to create demo accounts in production")
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    hasher = _DemoHasher.from_settings(settings)
    database = Database(settings)
    accounts = [
        DemoAccount("demo", "demo@example.com", DEMO_PASSWORD, Role.USER.value),
        DemoAccount("moderator", "moderator@example.com", DEMO_PASSWORD, Role.MODERATOR.value),
        DemoAccount("chief", "chief@example.com", DEMO_PASSWORD, Role.ADMIN.value),
    ]
    modules: list[tuple[str, Seeder, int]] = [
        ("social network", social_seed.seed_demo, size),
        ("blog", blog_seed.seed_demo, ARTICLES_PER_SIZE * size),
        ("task manager", todo_seed.seed_demo, TASKS_PER_SIZE * size),
        ("shop", shop_seed.seed_demo, PRODUCTS_PER_SIZE * size),
        ("URL shortener", shortener_seed.seed_demo, LINKS_PER_SIZE * size),
        ("chat", chat_seed.seed_demo, CHAT_MESSAGES_PER_SIZE * size),
    ]
    try:
        with Progress() as progress:
            count = USERS_PER_SIZE * size
            step = progress.add_task("users", total=count)
            async with database.session() as session:
                users = []
                for account in accounts:
                    users.append(await _account(session, hasher, account))
                    progress.advance(step)
                for i in range(count - len(accounts)):
                    name = f"{FIRST_NAMES[i % len(FIRST_NAMES)]}{i // len(FIRST_NAMES) or ''}"
                    other = DemoAccount(name, f"{name}@example.com", DEMO_PASSWORD, "user")
                    users.append(await _account(session, hasher, other))
                    progress.advance(step)
            for label, seeder, amount in modules:
                step = progress.add_task(label, total=1)
                async with database.session() as session:
                    await seeder(session, users, rng, amount)
                progress.advance(step)
        await database.refresh_statistics()
    finally:
        await database.dispose()
    return accounts


async def _account(session: AsyncSession, hasher: PasswordHasher, account: DemoAccount) -> User:
    return await registration_service.create_account(
        session,
        hasher,
        email=account.email,
        username=account.username,
        password=account.password,
        display_name=account.username.capitalize(),
        role=Role(account.role),
        verified=True,
    )
