"""Periodic work that runs once per slot, however many workers are running.

Every worker ticks every schedule about once a second. When a schedule's current slot (see
``timing.py``) is one this worker has not handled yet, it tries to insert the row
``(schedule, slot)`` into ``kernel_schedule_runs``; the primary key lets exactly one insert
succeed (``ON CONFLICT DO NOTHING``), and the winner enqueues the schedule's job in the same
transaction. So a slot fires once with ten workers, and still fires if the worker that would
have won it is down, as long as one worker ticks while the slot is current.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from mainspring.core.background.registry import SCHEDULES, Schedule

if TYPE_CHECKING:
    from mainspring.core.background.broker import Background

logger = structlog.get_logger("mainspring.jobs")


class Scheduler:
    """The schedules one worker ticks; ``schedules`` defaults to every registered one."""

    def __init__(
        self, background: Background, worker: str, schedules: Iterable[Schedule] | None = None
    ) -> None:
        self.background = background
        self.worker = worker
        self.schedules = list(SCHEDULES.values() if schedules is None else schedules)
        self._handled: dict[str, datetime] = {}

    async def tick(self, now: datetime) -> list[str]:
        """Fire every schedule whose current slot is new; the names this worker fired."""
        fired = []
        for schedule in self.schedules:
            slot = schedule.slot(now)
            if slot is None or self._handled.get(schedule.name) == slot:
                continue
            try:
                if await self._fire(schedule, slot):
                    fired.append(schedule.name)
            except Exception as exc:  # the next tick tries the slot again
                logger.warning("schedule_failed", schedule=schedule.name, error=repr(exc))
                continue
            self._handled[schedule.name] = slot
        return fired

    async def _fire(self, schedule: Schedule, slot: datetime) -> bool:
        background = self.background
        async with background.database.session() as session:
            won = await background.queue.claim_slot(session, schedule.name, slot, self.worker)
            if won:
                payload = {"slot": slot.isoformat()}
                await background.enqueue(session, schedule.task, payload, queue=schedule.queue)
        if won:
            logger.info("schedule_fired", schedule=schedule.name, slot=slot.isoformat())
        return won
