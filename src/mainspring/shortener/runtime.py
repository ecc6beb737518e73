"""``Shortener``: the module's per-app state, on ``app.state.shortener``.

It holds what the redirect path needs at hand (settings, the short-URL base, reserved words,
the target policy, the LRU, the click buffer, the invalidator) and starts and stops the two
tasks of each process: the click flusher and the invalidation listener.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from mainspring.core.config import Settings
from mainspring.core.db import Database
from mainspring.core.passwords import PasswordHasher
from mainspring.core.single_flight import SingleFlight
from mainspring.shortener.clicks import ClickBuffer
from mainspring.shortener.lookup import Invalidator, RedirectLRU
from mainspring.shortener.settings import ShortenerSettings
from mainspring.shortener.targets import TargetPolicy


class Shortener:
    """The shortener of one app instance."""

    def __init__(self, app: FastAPI, settings: Settings, config: ShortenerSettings) -> None:
        self.config = config
        self.prefix = config.prefix
        base = (config.base_url or settings.public_url).rstrip("/")
        self.short_base = f"{base}{config.prefix}/"
        """A short URL is ``short_base + code``."""
        self.reserved: frozenset[str] = frozenset(config.reserved_words)
        self.policy = TargetPolicy.build(
            blocked_domains=config.blocked_domains,
            own_urls=[base, settings.public_url],
            allow_private=config.allow_private_targets,
            resolve=config.resolve_targets,
            resolve_timeout=config.resolve_timeout_seconds,
        )
        self.instance = uuid.uuid4().hex
        self.lru = RedirectLRU(config.lru_size, config.lru_ttl_seconds)
        self.loads = SingleFlight()
        """Database reads of one code shared by concurrent redirects (see ``visits.py``)."""
        self.clicks = ClickBuffer(
            app.state.db,
            settings.secret_key.get_secret_value().encode(),
            flush_seconds=config.click_flush_seconds,
            batch_size=config.click_batch_size,
            max_pending=config.click_buffer_max,
        )
        self.invalidator = Invalidator(self.lru, app.state.cache, app.state.pubsub, self.instance)
        self.app_state = app.state
        self.database: Database = app.state.db

    @property
    def hasher(self) -> PasswordHasher:
        hasher: PasswordHasher = self.app_state.password_hasher
        return hasher

    def reserve(self, *words: str) -> None:
        """Add words codes may not be (the app's top-level route segments)."""
        self.reserved = self.reserved | {word.lower() for word in words if word}

    def is_reserved(self, key: str) -> bool:
        return key in self.reserved

    def short_url(self, code: str) -> str:
        return self.short_base + code

    async def start(self) -> None:
        await self.invalidator.start()
        await self.clicks.start()

    async def stop(self) -> None:
        await self.invalidator.stop()
        await self.clicks.stop()

    async def flush(self) -> int:
        """Write the buffered clicks now (tests, shutdown)."""
        return await self.clicks.flush()


def get_shortener(request: Request) -> Shortener:
    shortener: Shortener = request.app.state.shortener
    return shortener


ShortenerDep = Annotated[Shortener, Depends(get_shortener)]
