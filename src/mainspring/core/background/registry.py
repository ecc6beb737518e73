"""What background work exists: tasks and schedules, declared by name next to the code.

A module writes its tasks in ``<module>/background.py``::

    @task("accounts.send_verification")
    async def send_verification(ctx: JobContext, payload: dict[str, Any]) -> None:
        user = await UserService(ctx.session).get(uuid.UUID(payload["user_id"]))
        ...

    @schedule("accounts.purge_expired_tokens", cron="0 3 * * *")
    async def purge_expired_tokens(ctx: JobContext, payload: dict[str, Any]) -> None: ...

and ``discover_tasks()`` (called when the application is built) imports every
``mainspring.<module>.background``, so the API that enqueues and the worker that runs agree on
the same registry. Jobs name their task as a string: a job row outlives the process that wrote
it, and a name, unlike a function, survives a deploy.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import State

from mainspring.core.background.timing import Cron, Every
from mainspring.core.config import Settings

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_QUEUE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
DEFAULT_QUEUE = "default"


@dataclass(frozen=True)
class JobContext:
    """What a task receives besides its payload.

    ``session`` is the task's own unit of work: committed when the task returns (together with
    the removal of its job row, so a task's changes and "this job is done" are one fact), rolled
    back when it raises. ``state`` is the application's state, for kernel services such as
    ``state.pubsub``. ``attempt`` counts from 1: tasks run *at least once*, so a task must be
    safe to run again after a failure or a crash (idempotent).
    """

    session: AsyncSession
    settings: Settings
    state: State
    job_id: uuid.UUID
    task: str
    attempt: int
    worker: str


Handler = Callable[[JobContext, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Task:
    name: str
    handler: Handler
    max_attempts: int | None = None
    """Runs before the job is dead; ``None`` uses ``MAINSPRING_JOB_MAX_ATTEMPTS``."""


@dataclass(frozen=True)
class Schedule:
    """Periodic work: at each slot of ``timing``, one job of ``task`` is enqueued, once, with the
    payload ``{"slot": "<ISO 8601 time of the slot>"}``."""

    name: str
    task: str
    timing: Cron | Every
    queue: str = DEFAULT_QUEUE

    def slot(self, now: datetime) -> datetime | None:
        return self.timing.slot(now)


TASKS: dict[str, Task] = {}
SCHEDULES: dict[str, Schedule] = {}


def check_name(name: str) -> str:
    """Task and schedule names are dotted and lower case: ``<module>.<what it does>``."""
    if not _NAME.match(name) or len(name) > 200:
        raise ValueError(f"{name!r} is not a task name like 'accounts.send_verification'")
    return name


def check_queue(queue: str) -> str:
    if not _QUEUE.match(queue):
        raise ValueError(f"{queue!r} is not a queue name (lower case, digits, _ . -; 64 max)")
    return queue


def register_task(name: str, handler: Handler, *, max_attempts: int | None = None) -> Task:
    if name in TASKS:
        raise ValueError(f"a task named {name!r} is already registered")
    if max_attempts is not None and max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    declared = Task(check_name(name), handler, max_attempts)
    TASKS[name] = declared
    return declared


def task(name: str, *, max_attempts: int | None = None) -> Callable[[Handler], Handler]:
    """Declare ``handler`` as the task ``name``; the function itself is returned unchanged."""

    def register(handler: Handler) -> Handler:
        register_task(name, handler, max_attempts=max_attempts)
        return handler

    return register


def schedule(
    name: str,
    *,
    cron: str | None = None,
    every: timedelta | None = None,
    queue: str = DEFAULT_QUEUE,
    max_attempts: int | None = None,
) -> Callable[[Handler], Handler]:
    """Declare ``handler`` as a task named ``name`` that runs once per slot of a cron expression
    (UTC) or of a fixed period, however many workers are running."""
    timing: Cron | Every
    if cron is not None and every is None:
        timing = Cron.parse(cron)
    elif every is not None and cron is None:
        timing = Every(every)
    else:
        raise ValueError("a schedule takes exactly one of cron= or every=")
    declared = Schedule(check_name(name), name, timing, check_queue(queue))

    def register(handler: Handler) -> Handler:
        if name in SCHEDULES:
            raise ValueError(f"a schedule named {name!r} is already registered")
        register_task(name, handler, max_attempts=max_attempts)
        SCHEDULES[name] = declared
        return handler

    return register


def discover_tasks() -> None:
    """Import ``mainspring.<module>.background`` for every module that has one.

    The kernel never imports a module by name; this is the one convention through which
    modules' tasks reach the registry (as ``models.py`` is for tables).
    """
    import mainspring

    for info in pkgutil.iter_modules(mainspring.__path__):
        if not info.ispkg or info.name == "core":
            continue
        name = f"mainspring.{info.name}.background"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
