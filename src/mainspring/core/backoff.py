"""Pauses between reconnection attempts: doubling from ``initial`` up to ``maximum``, with
jitter, so that replicas that lost a server together do not all come back in the same instant.

Used by the loops that keep a connection open for good: the Redis pub/sub listener
(``core/pubsub_redis.py``) and the cache's tag-version copy (``core/cache_mirror.py``)::

    backoff = Backoff(0.05, 5.0)
    while True:
        try:
            connection = await connect()
            backoff.reset()               # connected: the next loss starts from ``initial``
            await listen(connection)
        except ConnectionError:
            log(retry_in=backoff.delay)
        await backoff.pause()
"""

from __future__ import annotations

import asyncio
import random


class Backoff:
    """The next pause (``delay``), its wait (``pause``), and ``reset`` after a success."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.delay = initial

    def reset(self) -> None:
        self.delay = self.initial

    async def pause(self) -> None:
        """Wait about ``delay`` (half to one and a half times it), then double it."""
        await asyncio.sleep(self.delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
        self.delay = min(self.delay * 2, self.maximum)
