"""One run for concurrent calls of the same key: the kernel's guard against stampedes (the
cache's loaders, the shortener's link lookups)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

_T = TypeVar("_T")


class SingleFlight:
    """Concurrent calls for one key share one run: the first caller runs ``work``, the others
    wait for its result (or its exception). A caller that is cancelled while running hands the
    work to one of those waiting, which runs it again (a client that went away does not fail
    everyone else's request). Per process; for loads that must not stampede the database."""

    def __init__(self) -> None:
        self._running: dict[str, asyncio.Future[Any]] = {}

    async def run(self, key: str, work: Callable[[], Awaitable[_T]]) -> _T:
        while (flight := self._running.get(key)) is not None:
            await asyncio.wait([flight])
            if not flight.cancelled():
                result: _T = flight.result()
                return result
        flight = asyncio.get_running_loop().create_future()
        self._running[key] = flight
        try:
            value = await work()
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except Exception as exc:
            flight.set_exception(exc)
            flight.exception()  # marks it retrieved: asyncio warns of unretrieved exceptions
            raise
        else:
            flight.set_result(value)
            return value
        finally:
            del self._running[key]
