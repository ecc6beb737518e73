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
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any, TypeVar

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
