"""A connection pool that serves its waiters first come, first served.

SQLAlchemy's asyncio pool (``AsyncAdaptedQueuePool``) keeps idle connections in an
``asyncio.Queue``. When every connection is in use, a request that needs one waits in the
queue's line; when a connection comes back, the queue wakes the first waiter, but the connection
stays in the queue until that waiter runs. A request arriving in between finds it there and
takes it (``get`` takes an idle connection without looking at the line), and the woken waiter,
finding the queue empty again, goes back to the END of the line. Under saturation, with new
requests arriving all the time, a waiter can lose that race again and again until the pool
timeout answers it 503, while the requests around it are served in a few milliseconds: the
mean looks fine, the tail does not.

``FairQueue`` hands a returned connection straight to the longest waiter (it never sits in
the queue while someone waits), and a new request joins the end of the line whenever the line
is not empty. Every request then waits at most for the connections returned before its turn,
and the pool timeout only answers requests the pool really cannot serve in time.

``ping_once`` is the pool's check of a PostgreSQL connection as it hands it out (``core/db.py``
installs it): no round trip for a connection given back just now, or one the server closed.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy.pool import AsyncAdaptedQueuePool
from sqlalchemy.util.concurrency import await_
from sqlalchemy.util.queue import AsyncAdaptedQueue, Empty, Full

T = TypeVar("T")


class FairQueue(AsyncAdaptedQueue[T]):
    """The pool's idle connections and, when there are none, its line of waiters."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._items: collections.deque[T] = collections.deque()
        self._waiters: collections.deque[asyncio.Future[T]] = collections.deque()

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._items)

    def qsize(self) -> int:
        return len(self._items)

    def waiting(self) -> int:
        """How many requests wait in line for a connection."""
        return sum(not waiter.done() for waiter in self._waiters)

    def put_nowait(self, item: T) -> None:
        """To the longest waiter that still waits, or among the idle connections."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a waiter that timed out or was cancelled has left
                waiter.set_result(item)
                return
        if self.full():
            raise Full()
        self._items.append(item)

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        self.put_nowait(item)  # never blocks: the pool never holds more than its size

    def get_nowait(self) -> T:
        if not self._items:
            raise Empty()
        return self._items.pop() if self.use_lifo else self._items.popleft()

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        # Idle connections and waiters never coexist: put_nowait hands to a waiter first.
        if self._items or not block:
            return self.get_nowait()
        return await_(self._wait(seconds=timeout))

    async def _wait(self, *, seconds: float | None) -> T:
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(seconds):
                return await waiter
        except TimeoutError:
            handed = self._leave(waiter)
            if handed is not None:  # handed over as the timeout struck: the request has it
                return handed
            raise Empty() from None
        except BaseException:  # cancelled: a connection handed over meanwhile goes on
            handed = self._leave(waiter)
            if handed is not None:
                self.put_nowait(handed)
            raise

    @staticmethod
    def _leave(waiter: asyncio.Future[T]) -> T | None:
        """Leave the line; the connection handed over meanwhile, if one was."""
        if waiter.done() and not waiter.cancelled():
            return waiter.result()
        waiter.cancel()  # put_nowait skips it, and drops it from the line there
        return None


class FairAsyncQueuePool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio pool with a first-come, first-served line (``FairQueue``)."""

    _queue_class: Any = FairQueue


# --- the check of a PostgreSQL connection as the pool hands it out -------------------------------

ALIVE_WINDOW_SECONDS = 0.5
"""A pooled connection given back this recently, whose socket the server has not closed, is
handed out without a round trip (``ping_once``)."""
_checked_in: WeakKeyDictionary[Any, float] = WeakKeyDictionary()
"""When each PostgreSQL connection (asyncpg's) was last given back to its pool."""


def note_checkin(dbapi_connection: Any, _record: Any) -> None:
    """The engine's ``checkin`` listener (PostgreSQL): when the connection came back."""
    if dbapi_connection is not None:  # None: invalidated while checked out
        _checked_in[dbapi_connection.driver_connection] = time.monotonic()


def ping_once(dbapi_connection: Any) -> bool:
    """The pool's check of a connection at checkout: False (the pool replaces every
    connection it holds) once the server has closed it; else a round trip, unless the
    connection was given back less than ``ALIVE_WINDOW_SECONDS`` ago.

    - asyncpg reads its socket whenever the event loop runs: a server that ended the
      connection (a restart, an idle timeout, ``pg_terminate_backend``) closed it, and
      ``is_closed()`` says so without a round trip.
    - A connection in use half a second ago, and not closed since, is alive: under load every
      checkout is such a one, and a round trip each was the largest fixed cost of a
      PostgreSQL read (HikariCP skips its check the same way, ``aliveBypassWindowMs``). A
      connection that died unnoticed within that half second fails its request's statement,
      which answers 503 and drops the pool, as a statement that loses its connection does.
    - The round trip: SQLAlchemy's asyncpg adapter wraps its ``;`` in ``BEGIN`` ...
      ``ROLLBACK`` unless the connection is in autocommit (for PgBouncer's transaction mode,
      which Mainspring does not use): three round trips. Marked autocommit for the ping, it
      sends the ``;`` alone; a dead connection raises, and the pool replaces it."""
    driver = dbapi_connection.driver_connection
    if driver.is_closed():
        return False
    checked_in = _checked_in.get(driver)
    if checked_in is not None and time.monotonic() - checked_in < ALIVE_WINDOW_SECONDS:
        return True
    level = dbapi_connection.isolation_level
    dbapi_connection.isolation_level = "autocommit"
    try:
        dbapi_connection.ping()
    finally:
        dbapi_connection.isolation_level = level
    return True
