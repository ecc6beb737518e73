"""Link previews: the target page's ``<title>``, fetched in the background.

Through the kernel's outbound client (``app.state.http``, ``core/http.py``): its SSRF guard
vets every address it connects to, redirect hops included, so a public target that redirects
to 127.0.0.1 or the metadata address is refused (``refused``). Bounded: at most
``preview_max_bytes`` are read, and the whole fetch, redirects and retries included, must end
within ``preview_timeout_seconds`` (``failed`` otherwise).
"""

from __future__ import annotations

import asyncio
import html
import re

import httpx

from mainspring.core.http import OutboundRequestRefused
from mainspring.shortener.models import PREVIEW_TITLE_MAX

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
_CHARSET = re.compile(r"charset=([\w-]+)", re.IGNORECASE)


async def fetch_title(
    http: httpx.AsyncClient, url: str, *, max_bytes: int, seconds: float
) -> tuple[str | None, str]:
    """``(title, status)``: status ``ok``, ``none`` (no HTML title), ``failed`` or
    ``refused``."""
    body = bytearray()
    try:
        async with asyncio.timeout(seconds):
            async with http.stream("GET", url, headers={"Accept": "text/html"}) as response:
                if response.status_code >= 400:
                    return None, "failed"
                content_type = response.headers.get("content-type", "")
                if "html" not in content_type.lower():
                    return None, "none"
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= max_bytes or b"</title" in body.lower():
                        break
    except OutboundRequestRefused:
        return None, "refused"
    except (httpx.HTTPError, TimeoutError):
        return None, "failed"
    charset = _CHARSET.search(content_type)
    title = parse_title(bytes(body[:max_bytes]), charset.group(1) if charset else "utf-8")
    return (title, "ok") if title else (None, "none")


def parse_title(document: bytes, charset: str = "utf-8") -> str | None:
    """The text of the first ``<title>``, entities decoded, whitespace collapsed, bounded."""
    found = _TITLE.search(document)
    if found is None:
        return None
    try:
        text = found.group(1).decode(charset, "replace")
    except LookupError:
        text = found.group(1).decode("utf-8", "replace")
    title = " ".join(html.unescape(text).split())
    return title[:PREVIEW_TITLE_MAX] or None
