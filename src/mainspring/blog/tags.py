"""Tag names: one spelling per tag, whatever the author typed."""

from __future__ import annotations

import re

_SPACES = re.compile(r"\s+")


def normalize_tag(name: str) -> str:
    """``"  Machine   Learning "`` -> ``"machine learning"``: trimmed, lower-cased, one space."""
    return _SPACES.sub(" ", name.strip()).lower()


def normalize_tags(names: list[str]) -> list[str]:
    """Each name normalized, blanks and repeats dropped, the author's order kept."""
    seen: dict[str, None] = {}
    for name in names:
        tag = normalize_tag(name)
        if tag:
            seen.setdefault(tag, None)
    return list(seen)
