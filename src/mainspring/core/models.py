"""The kernel's own tables: background jobs, schedule runs and idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mainspring.core.db import Base, IdMixin, TimestampMixin, utcnow


class Job(IdMixin, TimestampMixin, Base):
    """A unit of background work, written in the transaction of the change that caused it.

    Life cycle: ``queued`` -> ``running`` (claimed with a lease) -> ``done``; a failure goes back
    to ``queued`` with a later ``run_at`` (backoff) until ``max_attempts``, then ``dead`` with its
    last error kept. A ``running`` job whose lease (``locked_until``) expired is claimed again.
    """

    __tablename__ = "kernel_jobs"
    __table_args__ = (Index("ix_kernel_jobs_claim", "queue", "status", "run_at"),)

    queue: Mapped[str] = mapped_column(String(64), default="default")
    task_name: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    locked_by: Mapped[str | None] = mapped_column(String(100), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class ScheduleRun(Base):
    """One row per (schedule, period): inserting it is how one worker wins the right to run."""

    __tablename__ = "kernel_schedule_runs"

    schedule: Mapped[str] = mapped_column(String(200), primary_key=True)
    slot: Mapped[datetime] = mapped_column(primary_key=True)
    claimed_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdempotencyKey(IdMixin, Base):
    """The first response to an unsafe request with an ``Idempotency-Key``, kept for replay."""

    __tablename__ = "kernel_idempotency_keys"
    __table_args__ = (UniqueConstraint("principal", "key"),)

    principal: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(2048))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="in_progress")
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


__all__ = ["IdempotencyKey", "Job", "ScheduleRun"]
