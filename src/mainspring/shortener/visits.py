"""Following a short link: the rules of a redirect, on the path that the LRU did not answer.

``RedirectService.follow`` resolves the code (kernel cache, then the database; see
``lookup.py``), applies the rules in this order, and records the click:

1. unknown code -> 404; disabled -> 410; expired -> 410;
2. a password -> the interstitial form (no click yet);
3. a click limit -> the counter is advanced in the database by a conditional UPDATE
   (``clicks < max_clicks``) before the redirect; when it cannot be, 410. The limit therefore
   holds exactly across processes and replicas, and such links never enter the LRU;
4. the click goes to the buffer (GET only: HEAD is answered alike but counts nothing, as link
   checkers and unfurlers use it); a plain link enters the LRU for the fast path.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.shortener.codes import code_key
from mainspring.shortener.errors import LinkGone, LinkNotFound, WrongPassword
from mainspring.shortener.lookup import Snapshot, cache_key
from mainspring.shortener.repository import link_repository
from mainspring.shortener.responses import NO_STORE, lru_entry, redirect_headers
from mainspring.shortener.runtime import Shortener


@dataclass(frozen=True, slots=True)
class Visit:
    """Who follows the link, as the click records it (the address stays in memory only)."""

    method: str
    address: str
    user_agent: str
    referrer: str


@dataclass(frozen=True, slots=True)
class Redirect:
    status: int
    headers: list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class PasswordRequired:
    """The link asks for its password first: show the interstitial."""

    code: str


class RedirectService:
    async def follow(
        self, session: AsyncSession, shortener: Shortener, code: str, visit: Visit
    ) -> Redirect | PasswordRequired:
        """``session`` is used only by links with a click limit or a password: a plain link
        is read from the kernel cache, or on a miss through a short read-only session of its
        own (no write lock on SQLite, the connection back in the pool at once)."""
        key = code_key(code)
        looked_up_at = time.monotonic()
        snapshot = await self._active(session, shortener, key)
        if snapshot.protected:
            return PasswordRequired(snapshot.code)
        await self._count(session, shortener, snapshot, visit)
        if snapshot.plain:
            entry = lru_entry(
                snapshot, shortener.config.permanent_max_age, shortener.config.lru_ttl_seconds
            )
            shortener.lru.put(key, entry, looked_up_at=looked_up_at)
        return Redirect(
            snapshot.status, redirect_headers(snapshot, shortener.config.permanent_max_age)
        )

    async def unlock(
        self,
        session: AsyncSession,
        shortener: Shortener,
        code: str,
        password: str,
        visit: Visit,
    ) -> Redirect:
        """The password form's answer: a 303 to the target (a 307/308 would make the browser
        send the password on to the target), or ``WrongPassword``."""
        key = code_key(code)
        snapshot = await self._active(session, shortener, key)
        if snapshot.protected:
            hashed = await link_repository.password_hash(session, key)
            ok, _ = await shortener.hasher.verify(password, hashed)
            if not ok:
                raise WrongPassword("That password does not open this link.")
        await self._count(session, shortener, snapshot, visit)
        location = snapshot.url.encode("latin-1")
        return Redirect(
            303,
            [(b"location", location), (b"cache-control", NO_STORE), (b"content-length", b"0")],
        )

    async def _active(self, session: AsyncSession, shortener: Shortener, key: str) -> Snapshot:
        if shortener.is_reserved(key):
            raise LinkNotFound()
        snapshot = await self.snapshot(shortener, key)
        if snapshot is None:
            raise LinkNotFound("No link has this code.")
        if not snapshot.enabled:
            raise LinkGone("This link has been disabled.")
        if snapshot.expired(time.time()):
            raise LinkGone("This link has expired.")
        return snapshot

    async def snapshot(self, shortener: Shortener, key: str) -> Snapshot | None:
        """The link from the kernel cache, loaded from the database on a miss; a code this
        process changed a moment ago is read from the database (see ``lookup.py``). Either way
        concurrent redirects of one code share one read: a link shared the moment it is made
        is followed by a burst, which must not queue every request for a connection."""
        cache = shortener.app_state.cache

        async def load() -> dict[str, Any]:
            async with shortener.database.read_session() as session:
                found = await link_repository.snapshot(session, key)
            return found.to_json() if found else {"missing": True}

        if shortener.lru.changed_recently(key):
            data = await shortener.loads.run(key, load)
        else:
            data = await cache.get_or_set(
                cache_key(key),
                load,
                ttl=shortener.config.cache_ttl_seconds,
                tags=[cache_key(key)],
            )
        return None if data.get("missing") else Snapshot.from_json(data)

    async def _count(
        self, session: AsyncSession, shortener: Shortener, snapshot: Snapshot, visit: Visit
    ) -> None:
        limited = snapshot.max_clicks is not None
        if visit.method == "HEAD":
            if limited and not await link_repository.clicks_left(session, uuid.UUID(snapshot.id)):
                raise LinkGone("This link has been used up.")
            return
        if limited and not await link_repository.consume_click(session, uuid.UUID(snapshot.id)):
            raise LinkGone("This link has been used up.")
        shortener.clicks.add(
            snapshot.id, visit.address, visit.user_agent, visit.referrer, counted=limited
        )


redirect_service = RedirectService()
