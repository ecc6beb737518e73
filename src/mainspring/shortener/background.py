"""Background work of the shortener: fetching link previews.

``shortener.fetch_preview`` runs after a link is created or its target changes. A refusal by
the SSRF guard or a failed fetch is recorded (``refused`` / ``failed``) and not retried: a
preview is a nicety, and the target's owner, not us, decides when it answers.
"""

from __future__ import annotations

from typing import Any

from mainspring.core.background import JobContext, task
from mainspring.shortener.preview import fetch_title
from mainspring.shortener.service import FETCH_PREVIEW, link_service


@task(FETCH_PREVIEW, max_attempts=1)
async def fetch_preview(ctx: JobContext, payload: dict[str, Any]) -> None:
    config = ctx.state.shortener.config
    title, status = await fetch_title(
        ctx.state.http,
        payload["url"],
        max_bytes=config.preview_max_bytes,
        seconds=config.preview_timeout_seconds,
    )
    await link_service.record_preview(ctx.session, payload["key"], payload["url"], title, status)
