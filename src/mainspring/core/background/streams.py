"""The scale-out broker: Redis streams, read by workers as one consumer group, with acks.

Built on taskiq-redis's ``RedisStreamBroker``: ``kick`` appends a message to a stream
(``XADD``, trimmed to about ``STREAM_MAXLEN`` entries), ``listen`` reads new messages for this
consumer (``XREADGROUP``) and hands each one with its ``ack`` (``XACK``); Redis keeps every
message delivered but not acknowledged in the group's pending list.

A message carries a job *id* only. The job itself is the ``kernel_jobs`` row, written in the
transaction that caused it (the transactional outbox); the message is sent after that
transaction commits (``broker.py``), so a rolled-back transaction sends nothing. The stream is
the doorbell that lets a free worker start a job within milliseconds instead of at its next
poll; the row remains the truth, so a message lost between commit and ``XADD`` (the process
died in between) only delays its job until the next database poll picks the row up.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson
import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError
from taskiq import AckableMessage
from taskiq.message import BrokerMessage
from taskiq_redis import RedisStreamBroker

from mainspring.core.background.registry import DEFAULT_QUEUE
from mainspring.core.config import Settings

if TYPE_CHECKING:
    from mainspring.core.background.broker import Announcement

STREAM_PREFIX = "mainspring:jobs:"
CONSUMER_GROUP = "mainspring-workers"
STREAM_MAXLEN = 10_000
READ_BLOCK_MS = 1000
CLEANUP_TIMEOUT_SECONDS = 2.0

logger = structlog.get_logger("mainspring.jobs")


def stream_key(queue: str) -> str:
    """The Redis key of a queue's stream: ``mainspring:jobs:<queue>``."""
    return STREAM_PREFIX + queue


@dataclass(frozen=True)
class Delivery:
    """One stream message: the job it rings for (None if unreadable) and its acknowledgement."""

    job_id: uuid.UUID | None
    ack: Callable[[], Awaitable[None]]


class JobStream:
    """Publishing job ids (any process) and consuming them (workers) on Redis streams."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url = url
        self.settings = settings
        self._publisher = self._broker((DEFAULT_QUEUE,), consumer=None, batch=1)

    def _broker(
        self, queues: Sequence[str], *, consumer: str | None, batch: int
    ) -> RedisStreamBroker:
        first, *others = (stream_key(queue) for queue in queues)
        lease = self.settings.job_lease_seconds
        return RedisStreamBroker(
            self.url,
            queue_name=first,
            additional_streams=dict.fromkeys(others, ">"),
            consumer_group_name=CONSUMER_GROUP,
            consumer_name=consumer,
            maxlen=STREAM_MAXLEN,
            xread_block=READ_BLOCK_MS,
            xread_count=batch,  # never hold more messages than this worker can start
            idle_timeout=lease * 1000,  # a dead consumer's messages go to another after a lease
            unacknowledged_lock_timeout=lease,
        )

    async def start(self) -> None:
        await self._publisher.startup()

    async def stop(self) -> None:
        await self._publisher.shutdown()

    async def ping(self) -> None:
        async with Redis(connection_pool=self._publisher.connection_pool) as redis:
            await redis.ping()

    async def publish(self, jobs: Sequence[Announcement]) -> None:
        for job in jobs:
            message = BrokerMessage(
                task_id=str(job.job_id),
                task_name=job.task,
                message=orjson.dumps({"job_id": str(job.job_id)}),
                labels={"queue_name": stream_key(job.queue)},
            )
            await self._publisher.kick(message)

    @asynccontextmanager
    async def consume(
        self, queues: Sequence[str], *, consumer: str, batch: int
    ) -> AsyncIterator[AsyncIterator[Delivery]]:
        """The deliveries of ``queues``' streams to the consumer ``consumer``, until closed.

        On the way out the consumer leaves the group (``XGROUP DELCONSUMER``), so restarts do
        not pile up dead consumers; a message it had not acknowledged leaves with it, and its
        job, still ``running`` in its row, runs again when its lease expires.
        """
        broker = self._broker(queues, consumer=consumer, batch=batch)
        await broker.startup()
        try:
            yield _deliveries(broker)
        finally:
            # Bounded: after a Redis restart the pool may have no connection left to give, and
            # a worker's shutdown must not wait on Redis.
            try:
                async with asyncio.timeout(CLEANUP_TIMEOUT_SECONDS):
                    async with Redis(connection_pool=broker.connection_pool) as redis:
                        for queue in queues:
                            await redis.xgroup_delconsumer(
                                stream_key(queue), CONSUMER_GROUP, consumer
                            )
            except (RedisError, OSError) as exc:  # TimeoutError is an OSError
                logger.warning("stream_consumer_not_removed", consumer=consumer, error=repr(exc))
            try:
                async with asyncio.timeout(CLEANUP_TIMEOUT_SECONDS):
                    await broker.shutdown()
            except (RedisError, OSError) as exc:
                logger.warning("stream_consumer_not_closed", consumer=consumer, error=repr(exc))


async def _deliveries(broker: RedisStreamBroker) -> AsyncIterator[Delivery]:
    async for message in broker.listen():
        yield Delivery(_job_id(message), _acknowledgement(message))


def _job_id(message: AckableMessage) -> uuid.UUID | None:
    try:
        return uuid.UUID(orjson.loads(message.data)["job_id"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        logger.warning("stream_message_unreadable", size=len(message.data))
        return None


def _acknowledgement(message: AckableMessage) -> Callable[[], Awaitable[None]]:
    async def ack() -> None:
        result = message.ack()
        if inspect.isawaitable(result):
            await result

    return ack
