"""Background work of the blog: publishing scheduled articles when their time comes.

``blog.publish_scheduled`` runs once a minute (however many workers run: the scheduler gives
each slot to one of them). One ``UPDATE`` publishes every scheduled article whose
``publish_at`` has passed, so a run that comes late, or runs twice, publishes each article once
and at its own scheduled time (``published_at = publish_at``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog

from mainspring.blog.service import article_service
from mainspring.core.background import JobContext, schedule

PUBLISH_SCHEDULED = "blog.publish_scheduled"
logger = structlog.get_logger("mainspring.blog")


@schedule(PUBLISH_SCHEDULED, every=timedelta(minutes=1))
async def publish_scheduled(ctx: JobContext, payload: dict[str, Any]) -> None:
    published = await article_service.publish_due(ctx.session)
    if published:
        logger.info("scheduled_articles_published", count=published)
