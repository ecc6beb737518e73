"""``Background``: an application's broker, on ``app.state.background``; and ``enqueue``.

Which broker is configuration only (``MAINSPRING_BROKER_URL``, else ``MAINSPRING_REDIS_URL``,
else ``database``):

* ``database`` (the default): workers poll ``kernel_jobs`` for due rows.
* a Redis URL: the same rows, plus a message on a Redis stream sent *after the commit*, so a
  free worker starts the job at once (``streams.py``); polling still picks up delayed jobs,
  retries, and jobs whose worker died.

Either way a job is enqueued by adding its row through the caller's session, so it belongs to
the caller's transaction. The session knows its ``Background``: ``Background`` registers itself
in the ``info`` of every session its database's ``sessionmaker`` makes, and follows each
session's commit (count the jobs, ring the stream) and rollback (forget them).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.datastructures import State

from mainspring.core.background.queue import JobQueue
from mainspring.core.background.registry import DEFAULT_QUEUE, TASKS, check_queue
from mainspring.core.config import Settings
from mainspring.core.db import Database, utcnow
from mainspring.core.models import Job

if TYPE_CHECKING:
    from mainspring.core.background.streams import JobStream

SESSION_KEY = "mainspring.background"
_PENDING = "mainspring.background.pending"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
STOP_TIMEOUT_SECONDS = 5.0

JOBS = Counter(
    "mainspring_jobs_total",
    "Background jobs by task and outcome: enqueued (committed), done, failed (will be "
    "retried), dead (out of attempts), lost (its lease expired before it finished).",
    ["task", "outcome"],
)
logger = structlog.get_logger("mainspring.jobs")


@dataclass(frozen=True)
class Announcement:
    """A committed job to announce on its queue's stream."""

    job_id: uuid.UUID
    task: str
    queue: str


class Background:
    """The background-work service of one application (or one CLI command)."""

    def __init__(self, settings: Settings, database: Database, state: State | None = None) -> None:
        url = settings.backend_url(settings.broker_url, "database")
        self.settings = settings
        self.database = database
        self.state = state if state is not None else State()
        self.queue = JobQueue(database, settings)
        self.stream: JobStream | None
        if url == "database":
            self.backend = "database"
            self.stream = None
        elif url.startswith(REDIS_SCHEMES):
            self.backend = "redis"
            # Imported here: taskiq, taskiq-redis and aiohttp (about 10 MiB and 0.2 s at start)
            # serve only the Redis broker.
            from mainspring.core.background.streams import JobStream

            self.stream = JobStream(url, settings)
        else:
            raise ValueError("MAINSPRING_BROKER_URL must be `database` or a redis:// URL")
        self._announcing: set[asyncio.Task[None]] = set()
        info = {**database.sessionmaker.kw.get("info", {}), SESSION_KEY: self}
        database.sessionmaker.configure(info=info)

    @classmethod
    def of(cls, session: AsyncSession) -> Background:
        """The ``Background`` of the database ``session`` was opened on."""
        background = session.info.get(SESSION_KEY)
        if not isinstance(background, Background):
            raise RuntimeError(
                "This session has no Background: open it from the application's database "
                "(SessionDep, app.state.db.session(), or a task's ctx.session)."
            )
        return background

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[Background]:
        """A started ``Background`` on its own database engine, for command-line tools."""
        database = Database(settings)
        background = cls(settings, database)
        try:
            await background.start()
            yield background
        finally:
            await background.stop()
            await database.dispose()

    async def start(self) -> None:
        if self.stream is not None:
            await self.stream.start()

    async def stop(self) -> None:
        if self._announcing:
            # Bounded: with Redis down an announcement may never go out; its job is in its
            # row anyway, and the next poll runs it.
            await asyncio.wait(list(self._announcing), timeout=STOP_TIMEOUT_SECONDS)
        if self.stream is not None:
            try:
                async with asyncio.timeout(STOP_TIMEOUT_SECONDS):
                    await self.stream.stop()
            except TimeoutError:
                logger.warning("job_stream_not_closed")

    async def ping(self) -> None:
        """Readiness: the Redis stream server when there is one, else the jobs table."""
        if self.stream is not None:
            await self.stream.ping()
        else:
            await self.queue.ping()

    async def enqueue(
        self,
        session: AsyncSession,
        task: str,
        payload: dict[str, Any] | None = None,
        *,
        queue: str = DEFAULT_QUEUE,
        delay: timedelta | None = None,
    ) -> uuid.UUID:
        """Add a job of ``task`` to ``session``'s transaction; see the module's ``enqueue``."""
        declared = TASKS.get(task)
        if declared is None:
            raise LookupError(f"no task named {task!r} is registered")
        if delay is not None and delay < timedelta(0):
            raise ValueError("delay must not be negative")
        job = self.queue.new_job(
            task,
            _json_document(task, payload),
            queue=check_queue(queue),
            run_at=utcnow() + (delay or timedelta(0)),
            max_attempts=declared.max_attempts,
        )
        session.add(job)
        self.follow(session, job)
        return job.id

    async def retry(self, job_id: uuid.UUID) -> bool:
        """Queue the dead job ``job_id`` again (``mainspring jobs retry``); False if no such
        dead job exists."""
        async with self.database.session() as session:
            job = await self.queue.revive(session, job_id, utcnow())
            if job is None:
                return False
            self.follow(session, job)
        return True

    def follow(self, session: AsyncSession, job: Job) -> None:
        """Act on ``job`` when ``session`` commits (count it; announce it on the stream when it
        is due now), or forget it when the session rolls back."""
        pending: list[tuple[Announcement, datetime]] | None = session.info.get(_PENDING)
        if pending is None:
            pending = session.info[_PENDING] = []
            event.listen(session.sync_session, "after_commit", self._committed)
            event.listen(session.sync_session, "after_rollback", self._rolled_back)
        pending.append((Announcement(job.id, job.task_name, job.queue), job.run_at))

    def _committed(self, session: Session) -> None:
        pending: list[tuple[Announcement, datetime]] = session.info[_PENDING]
        committed, pending[:] = list(pending), []
        for job, _ in committed:
            JOBS.labels(job.task, "enqueued").inc()
        now = utcnow()
        due = [job for job, run_at in committed if run_at <= now]
        if self.stream is not None and due:
            # Called inside the commit, which cannot await: the messages go out in a task of
            # their own, and ``stop()`` waits for those still on their way.
            announcing = asyncio.get_running_loop().create_task(self.stream.publish(due))
            self._announcing.add(announcing)
            announcing.add_done_callback(self._announced)

    def _rolled_back(self, session: Session) -> None:
        session.info[_PENDING].clear()

    def _announced(self, announcing: asyncio.Task[None]) -> None:
        self._announcing.discard(announcing)
        if not announcing.cancelled() and announcing.exception() is not None:
            # The rows are committed: the next database poll runs them.
            logger.warning("job_announce_failed", error=repr(announcing.exception()))


async def enqueue(
    session: AsyncSession,
    task: str,
    payload: dict[str, Any] | None = None,
    *,
    queue: str = DEFAULT_QUEUE,
    delay: timedelta | None = None,
) -> uuid.UUID:
    """Enqueue a job of ``task`` with ``payload`` in ``session``'s transaction.

    The job exists once, and only if, the transaction commits; a worker runs it then (after
    ``delay`` if one is given) on ``queue``. The payload must be a JSON object: ids as strings,
    times as ISO 8601 strings; it is stored in the database, so pass ids rather than secrets
    where the task can look the data up. Returns the job id.
    """
    return await Background.of(session).enqueue(session, task, payload, queue=queue, delay=delay)


def _json_document(task: str, payload: dict[str, Any] | None) -> dict[str, Any]:
    """The payload as it will reach the task: a JSON object, refused if it is anything else."""
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise TypeError(f"the payload of {task!r} must be a dict (a JSON object)")
    try:
        document: dict[str, Any] = json.loads(json.dumps(payload, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the payload of {task!r} is not JSON: {exc}") from exc
    return document
