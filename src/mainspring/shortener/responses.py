"""The redirect response: status, ``Location`` and a ``Cache-Control`` that fits the type.

- 301 and 308 are permanent: browsers may cache them, so they carry
  ``public, max-age=<permanent_max_age>`` (capped by the time left before the link expires).
  A cached permanent redirect never reaches the service again: those repeat clicks are not
  counted, and a change of target reaches such a browser only when its copy expires.
- 302 and 307 are temporary, and so is any link with a password or a click limit:
  ``private, no-store``, every click comes back (and is counted).
"""

from __future__ import annotations

import time

from mainspring.shortener.lookup import Entry, Snapshot

PERMANENT = frozenset({301, 308})
NO_STORE = b"private, no-store"


def cache_control(snapshot: Snapshot, permanent_max_age: int, now: float) -> bytes:
    if snapshot.status not in PERMANENT or not snapshot.plain:
        return NO_STORE
    max_age = permanent_max_age
    if snapshot.expires_at is not None:
        max_age = min(max_age, max(int(snapshot.expires_at - now), 0))
    if max_age <= 0:
        return NO_STORE
    return b"public, max-age=" + str(max_age).encode()


def redirect_headers(snapshot: Snapshot, permanent_max_age: int) -> list[tuple[bytes, bytes]]:
    """The response headers of a redirect (the security headers are added by the kernel)."""
    return [
        (b"location", snapshot.url.encode("latin-1")),
        (b"cache-control", cache_control(snapshot, permanent_max_age, time.time())),
        (b"content-length", b"0"),
    ]


def lru_entry(snapshot: Snapshot, permanent_max_age: int, ttl: float) -> Entry:
    return Entry(
        link_id=snapshot.id,
        status=snapshot.status,
        headers=redirect_headers(snapshot, permanent_max_age),
        fresh_until=time.monotonic() + ttl,
        expires_at=snapshot.expires_at,
    )
