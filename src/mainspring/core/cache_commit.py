"""Invalidating cache tags once a session commits: ``invalidate_after_commit(session, *tags)``.

A service that changes what cached entries show calls it inside the transaction; the tags are
kept on the session and invalidated inside its commit, or dropped by a rollback (the mechanism
and its reasons: ``core/cache.py``'s docstring). ``core/cache.py``'s ``install`` attaches the
app's cache to every read-write session (``attach_to_sessions``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.util.concurrency import await_only, in_greenlet

from mainspring.core.cache import Cache

if TYPE_CHECKING:
    from mainspring.core.db import Database

logger = structlog.get_logger("mainspring.cache")

_SESSION_CACHE = "mainspring.cache"
_SESSION_TAGS = "mainspring.cache.invalidate"


def invalidate_after_commit(session: AsyncSession | Session, *tags: str) -> None:
    """Invalidate ``tags`` once ``session`` commits (``core/cache.py``, "Invalidating after the
    commit"); nothing when it rolls back, or when its database has no cache installed."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    if not isinstance(sync.info.get(_SESSION_CACHE), Cache):
        return
    pending: set[str] | None = sync.info.get(_SESSION_TAGS)
    if pending is None:
        pending = sync.info[_SESSION_TAGS] = set()
        event.listen(sync, "after_commit", _invalidate_pending)
        event.listen(sync, "after_rollback", _discard_pending)
    pending.update(tags)


def _invalidate_pending(session: Session) -> None:
    pending: set[str] = session.info[_SESSION_TAGS]
    if not pending:
        return
    tags, cache = sorted(pending), session.info[_SESSION_CACHE]
    pending.clear()
    if in_greenlet():  # ``await session.commit()``: wait for the invalidation (see above)
        try:
            await_only(cache.invalidate_tags(*tags))
        except Exception:  # the transaction is committed: never fail its request
            logger.exception("cache_invalidation_failed", tags=tags)
    else:  # a synchronous commit (no event loop to wait on): on the running loop, if any
        cache.invalidate_in_background(tags)


def _discard_pending(session: Session) -> None:
    session.info[_SESSION_TAGS].clear()


def attach_to_sessions(database: Database, cache: Cache) -> None:
    """Every read-write session of ``database`` carries ``cache`` in ``session.info``."""
    info = dict(database.sessionmaker.kw.get("info") or {})
    info[_SESSION_CACHE] = cache
    database.sessionmaker.configure(info=info)
