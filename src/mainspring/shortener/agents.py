"""What a click records of its visitor: browser family, device class, referrer host, and the
daily visitor hash. Nothing here stores, or can give back, the address.

The user-agent classification is deliberately small (a dozen ordered substring rules, no
dependency): analytics need "Chrome on mobile", not a version matrix.
"""

from __future__ import annotations

import hmac
from datetime import date
from functools import lru_cache
from urllib.parse import urlsplit

from mainspring.shortener.models import REFERRER_MAX

BOT_MARKERS = (
    "bot", "crawler", "spider", "slurp", "curl/", "wget/", "python-", "httpx", "go-http-client",
    "okhttp", "java/", "facebookexternalhit", "preview", "headless", "wrk",
)  # fmt: skip
BROWSERS = (  # first match wins: Edge and Opera also say "Chrome", Chrome also says "Safari"
    ("edg/", "Edge"),
    ("opr/", "Opera"),
    ("samsungbrowser", "Samsung Internet"),
    ("firefox/", "Firefox"),
    ("fxios/", "Firefox"),
    ("crios/", "Chrome"),
    ("chrome/", "Chrome"),
    ("safari/", "Safari"),
)


@lru_cache(maxsize=4096)
def classify(user_agent: str) -> tuple[str, str]:
    """``(browser family, device class)``; the device is ``desktop``, ``mobile``, ``tablet``,
    ``bot`` or ``other``. Cached: a few distinct agents make most of the traffic."""
    agent = user_agent.lower()
    if not agent:
        return "Other", "other"
    if any(marker in agent for marker in BOT_MARKERS):
        return "Bot", "bot"
    browser = next((name for marker, name in BROWSERS if marker in agent), "Other")
    if "ipad" in agent or "tablet" in agent or ("android" in agent and "mobile" not in agent):
        device = "tablet"
    elif "mobi" in agent or "iphone" in agent or "android" in agent:
        device = "mobile"
    elif any(system in agent for system in ("windows", "macintosh", "x11", "linux", "cros")):
        device = "desktop"
    else:
        device = "other"
    return browser, device


def referrer_host(referrer: str) -> str | None:
    """The host of a ``Referer`` header (never its path: it may carry tokens)."""
    if not referrer:
        return None
    try:
        host = urlsplit(referrer).hostname
    except ValueError:
        return None
    return host[:REFERRER_MAX] if host else None


def day_salt(secret: bytes, day: date) -> bytes:
    """The salt of one UTC day, derived from the secret key: every process of the service
    computes the same salt, and no salt is stored."""
    return hmac.new(secret, b"shortener-visitor:" + day.isoformat().encode(), "sha256").digest()


def visitor_hash(salt: bytes, address: str, user_agent: str) -> str:
    """A visitor of the day: HMAC-SHA256(salt, address NUL user agent), 32 hex characters."""
    message = address.encode() + b"\0" + user_agent.encode("utf-8", "replace")
    return hmac.digest(salt, message, "sha256")[:16].hex()
