"""How the kernel cache (``core/cache.py``) keeps an entry: as bytes, with the versions its tags
had when it was computed (``t``), so that a hit can tell whether a write has made it stale.

- a JSON value: ``{"t": {tag: version}, "v": value}``, under ``KEY_PREFIX``;
- a body kept as the bytes it is sent as (``CachedBytes``): one line of JSON (the tags, the
  ``meta``, the entry's version), a newline, then the body untouched, under ``BYTES_PREFIX``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from mainspring.core.conditional import make_etag

KEY_PREFIX = "mainspring:cache:"
BYTES_PREFIX = "mainspring:cache-bytes:"


@dataclass(frozen=True)
class CachedBytes:
    """A body kept as the bytes it is sent as, with a small JSON ``meta`` (headers' values).

    ``version`` is set by the cache: a weak ETag of the versions its tags had when it was
    computed (it changes with every invalidation of one of them); empty when the backend was
    unreachable."""

    body: bytes
    meta: dict[str, Any] = field(default_factory=dict)
    version: str = ""


BytesLoader = Callable[[], Awaitable[CachedBytes]]


@dataclass(frozen=True)
class Codec:
    """How one kind of entry is kept: its key prefix, and the value to and from bytes."""

    prefix: str
    encode: Callable[[Any, dict[str, str], str], bytes]
    decode: Callable[[bytes], tuple[dict[str, str], Any]]
    result: Callable[[Any, bytes], Any]
    """What a miss answers, from the loader's value and its encoded entry."""


def _encode_json(value: Any, stamps: dict[str, str], _key: str) -> bytes:
    # The value is encoded once and spliced into the entry.
    return b'{"t":' + orjson.dumps(stamps) + b',"v":' + orjson.dumps(value) + b"}"


def _decode_json(raw: bytes) -> tuple[dict[str, str], Any]:
    entry = orjson.loads(raw)
    return entry["t"], entry["v"]


def _result_json(_value: Any, raw: bytes) -> Any:
    return _decode_json(raw)[1]  # the JSON form, as a hit gives it


def entry_version(key: str, stamps: dict[str, str]) -> str:
    return _version_of(key, tuple(stamps.values())) if stamps else ""


@functools.lru_cache(maxsize=4096)
def _version_of(key: str, stamps: tuple[str, ...]) -> str:
    """The digest of an entry's key and tag versions: every replay of the edge cache checks
    one (``Cache.is_current``), and the same few entries under the same versions come again
    and again (a lookup here costs a tenth of the digest)."""
    return make_etag(key, *stamps)


def _encode_bytes(value: CachedBytes, stamps: dict[str, str], key: str) -> bytes:
    # One line of JSON (orjson never writes a raw newline), then the body as it is.
    head = {"t": stamps, "m": value.meta, "e": entry_version(key, stamps)}
    return orjson.dumps(head) + b"\n" + value.body


def _decode_bytes(raw: bytes) -> tuple[dict[str, str], CachedBytes]:
    head, _, body = raw.partition(b"\n")
    entry = orjson.loads(head)
    return entry["t"], CachedBytes(body, entry["m"], entry["e"])


def _result_bytes(_value: CachedBytes, raw: bytes) -> CachedBytes:
    return _decode_bytes(raw)[1]


JSON_ENTRY = Codec(KEY_PREFIX, _encode_json, _decode_json, _result_json)
BYTES_ENTRY = Codec(BYTES_PREFIX, _encode_bytes, _decode_bytes, _result_bytes)


class Unknown:
    """What this process's copy of the store's keys (core/cache_mirror.py) answers for a key it
    cannot vouch for: read it from the store."""


UNKNOWN = Unknown()
