"""Short codes: random base62 codes and custom aliases, and the words neither may be.

A code's *key* is its lower-case form: codes are unique, and looked up, regardless of case.
"""

from __future__ import annotations

import re
import secrets
import string

from mainspring.shortener.models import CODE_MAX, CODE_MIN

BASE62 = string.digits + string.ascii_letters
CODE_PATTERN = rf"^[A-Za-z0-9_-]{{{CODE_MIN},{CODE_MAX}}}$"
CODE_RE = re.compile(CODE_PATTERN)


def random_code(length: int) -> str:
    """``length`` characters drawn uniformly from base62 by the system's CSPRNG."""
    return "".join(secrets.choice(BASE62) for _ in range(length))


def code_key(code: str) -> str:
    """The lookup key of a code or alias (case-insensitive uniqueness)."""
    return code.lower()


def is_code(text: str) -> bool:
    """Whether ``text`` has the shape of a code (not whether it exists)."""
    return CODE_RE.fullmatch(text) is not None
