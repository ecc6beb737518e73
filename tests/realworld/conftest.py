"""Fixtures of the RealWorld adapter's tests: the blog's writers (``tests/blog/writers.py``)."""

from __future__ import annotations

from tests.blog.writers import settings, writer

__all__ = ["settings", "writer"]
