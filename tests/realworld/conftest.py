"""Fixtures of the RealWorld adapter's tests: the blog's writers (``tests/blog/writers.py``)."""

from __future__ import annotations

from tests.blog.writers import writer

__all__ = ["writer"]
