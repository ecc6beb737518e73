"""Fixtures of the blog's tests (see ``writers.py``)."""

from __future__ import annotations

from tests.blog.writers import writer

__all__ = ["writer"]
