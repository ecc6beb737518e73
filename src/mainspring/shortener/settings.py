"""The URL shortener's settings: ``MAINSPRING_SHORTENER_*`` variables (or ``.env``).

They live with the module rather than in ``core/config.py``: the kernel knows nothing of short
links. ``load_settings()`` reads them once per process; ``use_settings(...)`` replaces them for
the apps created inside its block (tests, the benchmark's in-process profile).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

CommaList = Annotated[list[str], NoDecode]

DEFAULT_RESERVED = (
    "api", "docs", "redoc", "admin", "static", "assets", "healthz", "readyz", "metrics",
    "openapi", "login", "logout", "signup", "register", "realworld", "well-known", "favicon",
    "robots", "sitemap", "links", "graphql", "ws",
)  # fmt: skip
"""Codes that never shadow a route (the first segment of every route of the app is added)."""


class ShortenerSettings(BaseSettings):
    """Every knob of the shortener. Field docs double as the README's rows."""

    model_config = SettingsConfigDict(
        env_prefix="MAINSPRING_SHORTENER_", env_file=".env", extra="ignore"
    )

    base_url: str | None = Field(
        None,
        description="Public base of short URLs (`https://sho.rt`); default MAINSPRING_PUBLIC_URL.",
    )
    prefix: str = Field(
        "",
        pattern=r"^(/[A-Za-z0-9_-]+)*$",
        description="Path before the code: `` (default) serves `/{code}`, `/s` serves `/s/{code}`.",
    )
    code_length: int = Field(7, ge=5, le=32, description="Length of random base62 codes.")
    reserved_words: CommaList = Field(
        default_factory=lambda: list(DEFAULT_RESERVED),
        description="Codes and aliases refused (case-insensitive), besides every top-level route.",
    )
    anonymous_create: bool = Field(
        True, description="Whether callers without an account may create links."
    )
    create_limit: str = Field(
        "30/minute", description="Links (or CSV imports) one user or address may create."
    )
    password_limit: str = Field(
        "10/minute", description="Password attempts per protected link and client address."
    )
    blocked_domains: CommaList = Field(
        default_factory=list,
        description="Target domains refused, with their subdomains (`evil.example,spam.test`).",
    )
    allow_private_targets: CommaList = Field(
        default_factory=list,
        description="Hosts or CIDRs targets may point at although private (an intranet shortener).",
    )
    resolve_targets: bool = Field(
        True, description="Resolve target host names at creation and refuse non-public addresses."
    )
    resolve_timeout_seconds: float = Field(2.0, gt=0, le=30, description="DNS wait at creation.")
    permanent_max_age: int = Field(
        3600, ge=0, description="`Cache-Control: max-age` of 301/308 redirects (seconds)."
    )
    lru_size: int = Field(10_000, ge=0, description="Links kept in each process's redirect LRU.")
    lru_ttl_seconds: float = Field(
        30.0, gt=0, description="Longest a process serves a link from its LRU without a check."
    )
    cache_ttl_seconds: int = Field(
        300, ge=1, description="Lifetime of a link in the kernel cache (shared with Redis)."
    )
    click_flush_seconds: float = Field(
        1.0, gt=0, le=60, description="How often buffered clicks are written (the crash bound)."
    )
    click_batch_size: int = Field(
        2000, ge=1, description="A buffer this full is flushed at once, without waiting."
    )
    click_buffer_max: int = Field(
        100_000, ge=1, description="Clicks held in memory at most; beyond, new clicks are dropped."
    )
    preview_max_bytes: int = Field(
        65_536, ge=1024, description="Bytes of a target read to find its title."
    )
    preview_timeout_seconds: float = Field(
        5.0, gt=0, le=60, description="Total time allowed to fetch a target's title."
    )
    bulk_max_rows: int = Field(500, ge=1, le=10_000, description="Rows of one CSV import.")

    @field_validator("reserved_words", "blocked_domains", "allow_private_targets", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("reserved_words", "blocked_domains")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [item.strip().lower().rstrip(".") for item in value if item.strip()]


_override: ContextVar[ShortenerSettings | None] = ContextVar("shortener_settings", default=None)


@lru_cache
def _from_environment() -> ShortenerSettings:
    return ShortenerSettings()


def load_settings() -> ShortenerSettings:
    """The settings in force: those of an enclosing ``use_settings`` block, else the
    environment's (read once)."""
    return _override.get() or _from_environment()


@contextmanager
def use_settings(settings: ShortenerSettings) -> Iterator[ShortenerSettings]:
    """Apps created inside the block use ``settings`` (tests build them explicitly)."""
    token = _override.set(settings)
    try:
        yield settings
    finally:
        _override.reset(token)
