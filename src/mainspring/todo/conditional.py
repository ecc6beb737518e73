"""Conditional requests on tasks (RFC 9110 section 13): ``ETag``, ``If-None-Match`` and
``If-Match``.

A task's ETag is its ``version``, which grows with every change of its representation. Reads
answer 304 when the client's copy is current; writes are refused with 412 when the client's
copy is stale, so that two people editing the same task never silently overwrite each other.
"""

from __future__ import annotations


def task_etag(version: int) -> str:
    return f'"{version}"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def if_match_allows(header: str, current: str) -> bool:
    """``If-Match``: strong comparison, so a weak tag (``W/"3"``) never matches; ``*`` does."""
    return any(tag == "*" or tag == current for tag in _tags(header))


def if_none_match_hits(header: str | None, current: str) -> bool:
    """``If-None-Match``: weak comparison (``W/"3"`` matches ``"3"``); ``*`` matches anything."""
    if not header:
        return False
    return any(tag == "*" or tag.removeprefix("W/") == current for tag in _tags(header))
