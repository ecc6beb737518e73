"""Merge semantics of PATCH bodies (RFC 7396): a field left out stays as it is, a field sent
takes the value sent, and ``null`` clears it. Fields that have no "empty" value (a title, a
status) cannot be cleared, so a ``null`` for them is refused (422) rather than ignored."""

from __future__ import annotations

from typing import Any


def refuse_nulls(data: Any, fields: tuple[str, ...]) -> Any:
    """A ``mode="before"`` model validator's body: fail when one of ``fields`` is ``null``."""
    if isinstance(data, dict):
        nulled = [name for name in fields if name in data and data[name] is None]
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null")
    return data
