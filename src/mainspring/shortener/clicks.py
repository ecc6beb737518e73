"""The click buffer: redirects record clicks in memory; a periodic flush writes them in batches.

A redirect must not wait on the database, so ``ClickBuffer.add`` only appends a tuple to a list
(no hashing, no parsing: the raw address lives in this process's memory until the next flush,
never in a row). ``flush`` swaps the list out and writes it in one transaction: one
multi-row ``INSERT`` of the click rows and one ``UPDATE`` per link of its counter
(``clicks = clicks + n``), executed as one batch.

Bounds (docs/shortener.md):
- A crash loses at most the unflushed buffer: the clicks of the last ``click_flush_seconds``
  (1 s by default), or fewer when ``click_batch_size`` clicks arrived first (a full batch wakes
  the flusher at once). A graceful stop (SIGTERM) flushes.
- Memory: at most ``click_buffer_max`` clicks are held; beyond, new clicks are dropped and
  counted in ``mainspring_shortener_clicks_dropped_total`` (the database is down or too slow).
- A flush that fails (database unavailable) puts its clicks back, within that bound, for the
  next flush.
- Clicks of a link deleted meanwhile are dropped at the flush (their link is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any, NamedTuple, cast

import structlog
from prometheus_client import Counter
from sqlalchemy import Integer, Table, bindparam, case, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from mainspring.core.db import Database, uuid7
from mainspring.shortener.agents import classify, day_salt, referrer_host, visitor_hash
from mainspring.shortener.models import Click, Link

logger = structlog.get_logger("mainspring.shortener")

CLICKS_RECORDED = Counter(
    "mainspring_shortener_clicks_total",
    "Clicks by outcome: written to the database, or dropped (buffer full, or link deleted).",
    ["outcome"],
)
DROPPED = CLICKS_RECORDED.labels("dropped")
WRITTEN = CLICKS_RECORDED.labels("written")


class PendingClick(NamedTuple):
    """One redirect, as the hot path saw it."""

    link_id: str
    at: float
    """Unix time."""
    address: str
    user_agent: str
    referrer: str
    counted: bool
    """The link's counter was already advanced at the redirect (links with ``max_clicks``)."""


class ClickBuffer:
    """Clicks waiting to be written; see the module docstring."""

    def __init__(
        self,
        database: Database,
        secret: bytes,
        *,
        flush_seconds: float,
        batch_size: int,
        max_pending: int,
    ) -> None:
        self.database = database
        self.secret = secret
        self.flush_seconds = flush_seconds
        self.batch_size = batch_size
        self.max_pending = max_pending
        self._pending: list[PendingClick] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._salts: dict[date, bytes] = {}
        self.dropped = 0
        """Clicks refused by a full buffer, not yet reported to the metrics."""

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self,
        link_id: str,
        address: str,
        user_agent: str,
        referrer: str,
        *,
        counted: bool = False,
    ) -> None:
        """Record one click (the hot path: an append and a length check; the metrics are
        counted by the flush)."""
        pending = self._pending
        if len(pending) >= self.max_pending:
            self.dropped += 1
            return
        pending.append(PendingClick(link_id, time.time(), address, user_agent, referrer, counted))
        if len(pending) >= self.batch_size:
            self._wake.set()

    # --- flushing ---------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="shortener-clicks")

    async def stop(self) -> None:
        """Stop the periodic flush, then write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self.flush_seconds):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # never let the flusher die: the next round tries again
                logger.exception("shortener_click_flush_failed")

    async def flush(self) -> int:
        """Write every pending click; returns how many were written."""
        async with self._lock:
            batch, self._pending = self._pending, []
            if self.dropped:
                DROPPED.inc(self.dropped)
                self.dropped = 0
            if not batch:
                return 0
            try:
                written = await self._write(batch)
            except (DBAPIError, PoolTimeoutError, OSError) as exc:
                self._put_back(batch)
                logger.warning("shortener_clicks_not_written", error=type(exc).__name__)
                return 0
            WRITTEN.inc(written)
            DROPPED.inc(len(batch) - written)  # clicks of links deleted meanwhile
            return written

    def _put_back(self, batch: list[PendingClick]) -> None:
        room = max(self.max_pending - len(self._pending), 0)
        kept = batch[:room]
        DROPPED.inc(len(batch) - len(kept))
        self._pending[:0] = kept

    async def _write(self, batch: list[PendingClick]) -> int:
        for attempt in (1, 2):
            try:
                async with self.database.session() as session:
                    ids = {link_id: uuid.UUID(link_id) for link_id in {c.link_id for c in batch}}
                    found = await session.scalars(select(Link.id).where(Link.id.in_(ids.values())))
                    existing = set(found.all())
                    alive = {text: key for text, key in ids.items() if key in existing}
                    rows, counters = self._rows(batch, alive)
                    if rows:
                        await session.execute(_INSERT_CLICKS, rows)
                    if counters:
                        await session.execute(_ADVANCE_COUNTER, counters)
                    return len(rows)
            except IntegrityError:
                if attempt == 2:  # a link deleted between our check and our insert, twice
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _rows(
        self, batch: list[PendingClick], alive: dict[str, uuid.UUID]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The click rows and the counters' advances of ``batch``, for the links in ``alive``
        (their ids as the hot path saw them -> as keys). Thousands of clicks a second pass
        here: each costs a few microseconds of classification and hashing, no more."""
        rows: list[dict[str, Any]] = []
        counts: dict[uuid.UUID, int] = defaultdict(int)
        last: dict[uuid.UUID, datetime] = {}
        hosts: dict[str, str | None] = {}  # a few pages send most visitors: parse each once
        for click in batch:
            link_id = alive.get(click.link_id)
            if link_id is None:
                continue
            at = datetime.fromtimestamp(click.at, UTC)
            day = at.date()
            browser, device = classify(click.user_agent)
            rows.append(
                {
                    "id": uuid7(),
                    "link_id": link_id,
                    "clicked_at": at,
                    "day": day,
                    "referrer_host": hosts[click.referrer]
                    if click.referrer in hosts
                    else hosts.setdefault(click.referrer, referrer_host(click.referrer)),
                    "browser": browser,
                    "device": device,
                    "visitor": visitor_hash(self._salt(day), click.address, click.user_agent),
                }
            )
            if not click.counted:
                counts[link_id] += 1
            previous = last.get(link_id)
            if previous is None or at > previous:
                last[link_id] = at
        counters = [
            {"link_id": link_id, "n": counts.get(link_id, 0), "last": at}
            for link_id, at in last.items()
        ]
        return rows, counters

    def _salt(self, day: date) -> bytes:
        salt = self._salts.get(day)
        if salt is None:
            self._salts = {day: day_salt(self.secret, day)}  # keep one day's: older days end
            salt = self._salts[day]
        return salt


_INSERT_CLICKS = insert(cast(Table, Click.__table__))
"""The click rows, as one Core ``INSERT`` executed with every row (the driver's
``executemany``, or multi-row ``VALUES`` batches): the ORM's bulk insert path spent about
30 µs of CPU per row making and checking the objects it does not need here."""

_links = cast(Table, Link.__table__)
_last = bindparam("last", type_=_links.c.last_clicked_at.type)
_ADVANCE_COUNTER = (
    update(_links)
    .where(_links.c.id == bindparam("link_id"))
    .values(
        clicks=_links.c.clicks + bindparam("n", type_=Integer()),
        updated_at=_links.c.updated_at,  # a click is no edit
        last_clicked_at=case(
            (
                or_(
                    _links.c.last_clicked_at.is_(None),
                    _links.c.last_clicked_at < _last,
                ),
                _last,
            ),
            else_=_links.c.last_clicked_at,
        ),
    )
)
"""One link's counter advanced by ``n`` (executed for every link of a flush in one batch)."""
