"""Slugs: the readable, unique, URL-safe name of an article, derived from its title.

``slugify("Ça marche: 10 astuces!")`` gives ``"ca-marche-10-astuces"``: accents are folded to
ASCII where a base letter exists, other scripts are kept (a URL carries them percent-encoded),
and everything that is not a letter or a digit becomes a single hyphen. When the slug is taken,
``candidates`` offers it again with a short random suffix (``how-to-x7k2qp``): unguessable
suffixes mean two writers racing on the same title almost never pick the same candidate.
"""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
from collections.abc import Iterator

from mainspring.blog.models import SLUG_MAX

FALLBACK = "article"
SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
SUFFIX_LENGTH = 6
# One-segment paths under /articles that are routes, not articles.
RESERVED = frozenset({"feed"})

_SUFFIX = rf"-[{SUFFIX_ALPHABET}]{{{SUFFIX_LENGTH}}}"
_APOSTROPHES = re.compile(r"['\u2019]")  # "don't" is one word: "dont", not "don-t"
_SEPARATORS = re.compile(r"[\W_]+")


def slugify(title: str) -> str:
    """The slug of a title: lowercase words joined by hyphens, never empty nor reserved."""
    folded = "".join(_fold(ch) for ch in unicodedata.normalize("NFC", title))
    words = _SEPARATORS.sub("-", _APOSTROPHES.sub("", folded.lower())).strip("-")
    base = words[: SLUG_MAX - SUFFIX_LENGTH - 1].rstrip("-") or FALLBACK
    return f"{base}-{_suffix()}" if base in RESERVED else base


def candidates(base: str) -> Iterator[str]:
    """``base``, then ``base`` with random suffixes: the slugs to try, in order."""
    yield base
    while True:
        yield f"{base}-{_suffix()}"


def derived_from(slug: str, base: str) -> bool:
    """Whether ``slug`` is ``base`` or one of its ``candidates`` (``base-x7k2qp``)."""
    return slug == base or re.fullmatch(re.escape(base) + _SUFFIX, slug) is not None


def _fold(char: str) -> str:
    """``é`` -> ``e``, ``ﬁ`` -> ``fi``; a character with no ASCII base (``ダ``) stays whole."""
    decomposed = unicodedata.normalize("NFKD", char)
    base = "".join(part for part in decomposed if not unicodedata.combining(part))
    return base if base.isascii() else char


def _suffix() -> str:
    return "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(SUFFIX_LENGTH))
