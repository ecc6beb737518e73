"""The job queue, in the application's own database: the life of a ``kernel_jobs`` row.

Whichever broker delivers jobs (``broker.py``), the row is the truth about a job:

* **enqueue** — the row is added by the caller's session, inside the caller's transaction:
  a rolled-back request leaves no job, a committed one cannot lose it.
* **claim** — one statement moves due rows to ``running`` with a *lease*
  (``locked_until``, ``locked_by``)::

      UPDATE kernel_jobs SET status = 'running', attempts = attempts + 1, locked_until = ...
      WHERE id IN (SELECT id FROM kernel_jobs WHERE <due> ORDER BY run_at LIMIT n
                   FOR UPDATE SKIP LOCKED)
      RETURNING ...

  On PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets workers claim side by side without waiting for,
  or taking, each other's rows. SQLite has no row locks (the clause is left out when compiling)
  but needs none: a read-write session starts with ``BEGIN IMMEDIATE``, so claims run one at a
  time and the sub-select and the update are one atomic step. A ``running`` row whose lease
  expired (its worker died) is due again.
* **complete** — the task's session deletes the row *in the task's own transaction*, on the
  condition that the lease is still this claim's: if another worker re-claimed the job
  meanwhile, nothing of this run is committed.
* **fail** — the row goes back to ``queued`` with a later ``run_at`` (exponential backoff with
  jitter), or, after ``max_attempts`` runs, to ``dead`` with its last error kept for
  ``mainspring jobs`` and ``mainspring jobs retry``.

Times are the workers' clocks (UTC): keep servers' clocks synchronised (NTP).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mainspring.core.background.timing import retry_delay
from mainspring.core.config import Settings
from mainspring.core.db import Database, uuid7
from mainspring.core.models import Job, ScheduleRun
from mainspring.core.sql import dialect_insert

JobStatus = Literal["queued", "running", "dead"]
JOB_STATUSES: tuple[JobStatus, ...] = ("queued", "running", "dead")
SCHEDULE_RUNS_KEPT = timedelta(days=1)
"""A schedule's runs older than this are deleted by the worker that wins a newer slot."""
MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker holds the lease of. ``lease`` is the claim's ``locked_by`` value."""

    id: uuid.UUID
    task: str
    queue: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    lease: str


@dataclass(frozen=True)
class JobOutcome:
    """What became of one run: ``done``; ``retry`` (failed, due again at ``retry_at``);
    ``dead`` (failed its last attempt); ``lost`` (its lease expired and another worker took
    the job over, so nothing of this run was kept)."""

    job_id: uuid.UUID
    task: str
    attempt: int
    status: Literal["done", "retry", "dead", "lost"]
    error: str | None = None
    retry_at: datetime | None = None


def _due(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(Job.status == "queued", Job.run_at <= now),
        and_(Job.status == "running", Job.locked_until < now),
    )


class JobQueue:
    """Every statement on ``kernel_jobs`` and ``kernel_schedule_runs``."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings

    def new_job(
        self,
        task: str,
        payload: dict[str, Any],
        *,
        queue: str,
        run_at: datetime,
        max_attempts: int | None,
    ) -> Job:
        return Job(
            id=uuid7(),
            queue=queue,
            task_name=task,
            payload=payload,
            status="queued",
            attempts=0,
            max_attempts=max_attempts or self.settings.job_max_attempts,
            run_at=run_at,
        )

    async def claim(
        self, lease: str, limit: int, queues: Sequence[str] | None, now: datetime
    ) -> list[ClaimedJob]:
        """Take up to ``limit`` due jobs (of ``queues``, or of every queue when ``None``)."""
        where = _due(now)
        if queues is not None:
            where = and_(Job.queue.in_(queues), where)
        pick = (
            select(Job.id)
            .where(where)
            .order_by(Job.run_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self._take(Job.id.in_(pick), lease, now)

    async def claim_one(self, job_id: uuid.UUID, lease: str, now: datetime) -> ClaimedJob | None:
        """Take the job ``job_id`` if it is due: the claim a stream message leads to."""
        claimed = await self._take(and_(Job.id == job_id, _due(now)), lease, now)
        return claimed[0] if claimed else None

    async def _take(
        self, where: ColumnElement[bool], lease: str, now: datetime
    ) -> list[ClaimedJob]:
        stmt = (
            update(Job)
            .where(where)
            .values(
                status="running",
                attempts=Job.attempts + 1,
                locked_until=now + timedelta(seconds=self.settings.job_lease_seconds),
                locked_by=lease,
            )
            .returning(
                Job.id, Job.task_name, Job.queue, Job.payload, Job.attempts, Job.max_attempts
            )
            .execution_options(synchronize_session=False)
        )
        async with self.database.session() as session:
            rows = (await session.execute(stmt)).all()
        return [
            ClaimedJob(
                id=row.id,
                task=row.task_name,
                queue=row.queue,
                payload=row.payload,
                attempt=row.attempts,
                max_attempts=row.max_attempts,
                lease=lease,
            )
            for row in rows
        ]

    async def complete(self, session: AsyncSession, job: ClaimedJob) -> bool:
        """Delete the finished job in the task's transaction; False when the lease was lost."""
        stmt = (
            delete(Job)
            .where(Job.id == job.id, Job.locked_by == job.lease, Job.status == "running")
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
        return (await session.execute(stmt)).first() is not None

    async def fail(self, job: ClaimedJob, error: str, now: datetime) -> JobOutcome:
        """Record a failed run: queued again after a backoff, or dead after the last attempt."""
        error = error[-MAX_ERROR_CHARS:]
        values: dict[str, Any] = {"locked_until": None, "locked_by": None, "last_error": error}
        retry_at = None
        if job.attempt >= job.max_attempts:
            values.update(status="dead", finished_at=now)
        else:
            retry_at = now + retry_delay(job.attempt)
            values.update(status="queued", run_at=retry_at)
        stmt = (
            update(Job)
            .where(Job.id == job.id, Job.locked_by == job.lease, Job.status == "running")
            .values(**values)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
        async with self.database.session() as session:
            settled = (await session.execute(stmt)).first() is not None
        if not settled:
            return JobOutcome(job.id, job.task, job.attempt, "lost", error)
        status: Literal["retry", "dead"] = "dead" if retry_at is None else "retry"
        return JobOutcome(job.id, job.task, job.attempt, status, error, retry_at)

    async def release(self, jobs: Sequence[ClaimedJob], now: datetime) -> int:
        """Give back the leases of claimed jobs this worker will not run (it is stopping): they
        are due again at once, and the interrupted attempt does not count. How many were
        still this worker's to give back."""
        if not jobs:
            return 0
        released = 0
        async with self.database.session() as session:
            for job in jobs:
                stmt = (
                    update(Job)
                    .where(Job.id == job.id, Job.locked_by == job.lease, Job.status == "running")
                    .values(
                        status="queued",
                        attempts=Job.attempts - 1,
                        run_at=now,
                        locked_until=None,
                        locked_by=None,
                    )
                    .returning(Job.id)
                    .execution_options(synchronize_session=False)
                )
                released += (await session.execute(stmt)).first() is not None
        return released

    async def revive(self, session: AsyncSession, job_id: uuid.UUID, now: datetime) -> Job | None:
        """Queue a dead job again with a fresh set of attempts (its last error stays until the
        next run replaces or deletes it)."""
        job = await session.get(Job, job_id, with_for_update=True)
        if job is None or job.status != "dead":
            return None
        job.status = "queued"
        job.attempts = 0
        job.run_at = now
        job.finished_at = None
        await session.flush()
        return job

    async def list_jobs(self, statuses: Sequence[JobStatus], limit: int) -> list[Job]:
        """Jobs by status, the next due first (done jobs are deleted, so never listed)."""
        stmt = select(Job).where(Job.status.in_(statuses)).order_by(Job.run_at).limit(limit)
        async with self.database.read_session() as session:
            return list((await session.scalars(stmt)).all())

    async def claim_slot(
        self, session: AsyncSession, schedule: str, slot: datetime, claimed_by: str
    ) -> bool:
        """Insert (schedule, slot): True for the one worker whose insert created the row."""
        stmt = (
            dialect_insert(self.database.dialect, ScheduleRun)
            .values(schedule=schedule, slot=slot, claimed_by=claimed_by)
            .on_conflict_do_nothing()
            .returning(ScheduleRun.schedule)
        )
        won = (await session.execute(stmt)).first() is not None
        if won:
            await session.execute(
                delete(ScheduleRun).where(
                    ScheduleRun.schedule == schedule, ScheduleRun.slot < slot - SCHEDULE_RUNS_KEPT
                )
            )
        return won

    async def ping(self) -> None:
        """Readiness: the jobs table answers."""
        async with self.database.read_session() as session:
            await session.execute(select(Job.id).limit(1))
