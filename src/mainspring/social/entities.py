"""Hashtags and @mentions: found in a post's text once, when it is written.

A post's text is plain text, never HTML. What makes ``#python`` or ``@alice`` a link is an
*entity*: the kind, the span ``[start, end)`` in the text and what it points to. Clients render
the text themselves and wrap each span in a link; the server never builds HTML, so there is no
markup to sanitise and no way to inject any.

Offsets count Unicode code points (Python string indices). A JavaScript client, whose strings
count UTF-16 units, converts with ``Array.from(text)``.

The rules, the same as the large networks use:
- a hashtag is ``#`` followed by letters, digits or ``_`` with at least one letter (``#2024`` is
  a number, not a tag), at most 100 characters; it is compared case-insensitively, so it is
  stored lower-cased (``casefold``) while the text keeps what the author typed;
- a mention is ``@`` and a username (2-32 ASCII letters, digits, ``_``, ``.`` or ``-``), not
  ending with a dot or a hyphen: in ``@alice.`` the dot ends a sentence;
- either one starts at the beginning of the text or after a character that cannot be part of a
  word, so ``bob@example.com`` is an e-mail address and ``C#`` is a language, not entities.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

MAX_HASHTAG_LENGTH = 100
MAX_MENTIONS = 20
"""Mentions beyond the twentieth of one post are left as plain text: nobody notifies a crowd."""

_BOUNDARY = r"(?<![\w@#&])"
HASHTAG_PATTERN = re.compile(_BOUNDARY + rf"#(\w{{1,{MAX_HASHTAG_LENGTH}}})(?!\w)")
MENTION_PATTERN = re.compile(
    _BOUNDARY + r"@([A-Za-z0-9_][A-Za-z0-9_.\-]{0,30}[A-Za-z0-9_])(?![A-Za-z0-9_])"
)


@dataclass(frozen=True)
class Entity:
    """One link in a post's text: ``text[start:end]`` is ``#tag`` or ``@username``."""

    kind: Literal["hashtag", "mention"]
    start: int
    end: int
    value: str
    """The hashtag lower-cased, or the username as typed."""


def find_hashtags(text: str) -> list[Entity]:
    """The hashtags of ``text`` in order of appearance (``#2024`` has no letter: no tag)."""
    return [
        Entity("hashtag", match.start(), match.end(), match.group(1).casefold())
        for match in HASHTAG_PATTERN.finditer(text)
        if any(char.isalpha() for char in match.group(1))
    ]


def find_mentions(text: str) -> list[Entity]:
    """The @mentions of ``text`` in order of appearance, at most ``MAX_MENTIONS`` of them."""
    return [
        Entity("mention", match.start(), match.end(), match.group(1))
        for match in MENTION_PATTERN.finditer(text)
    ][:MAX_MENTIONS]


def unique(values: list[str]) -> list[str]:
    """``values`` without repeats, first occurrence first, ignoring case."""
    seen: set[str] = set()
    out = []
    for value in values:
        key = value.casefold()
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def stored_entities(text: str, users: Mapping[str, uuid.UUID]) -> dict[str, Any]:
    """What a post stores (the ``posts.entities`` JSON): its hashtags, and its mentions of
    the users named in ``users`` (lower-cased username to id); other mentions stay text."""
    return {
        "hashtags": [
            {"start": h.start, "end": h.end, "value": h.value} for h in find_hashtags(text)
        ],
        "mentions": [
            {"start": m.start, "end": m.end, "value": m.value, "user_id": str(user_id)}
            for m in find_mentions(text)
            if (user_id := users.get(m.value.lower())) is not None
        ],
    }
