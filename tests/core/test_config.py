"""Settings: environment parsing, production refusal, secret masking."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from mainspring.core.config import DEFAULT_SECRET, Settings

STRONG = "x" * 48


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINSPRING_PORT", "8123")
    monkeypatch.setenv("MAINSPRING_CORS_ORIGINS", "https://a.example, https://b.example")
    settings = Settings(_env_file=None)
    assert settings.port == 8123
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


def test_invalid_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINSPRING_PORT", "99999")
    with pytest.raises(ValidationError, match="port"):
        Settings(_env_file=None)


@pytest.mark.parametrize("secret", [DEFAULT_SECRET, "short-secret"])
def test_production_refuses_default_or_short_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="MAINSPRING_SECRET_KEY"):
        Settings(_env_file=None, env="production", secret_key=secret)


def test_production_accepts_a_strong_secret() -> None:
    settings = Settings(_env_file=None, env="production", secret_key=STRONG)
    assert settings.production_problems() == []
    assert settings.log_as_json


def test_secrets_are_masked() -> None:
    settings = Settings(
        _env_file=None,
        secret_key=STRONG,
        database_url="postgresql+asyncpg://app:hunter2@db.internal/app",
        redis_url="redis://:redispass@cache.internal:6379/0",
    )
    masked = settings.masked()
    assert masked["secret_key"] == "********"
    assert masked["database_url"] == "postgresql+asyncpg://app:***@db.internal/app"
    assert "redispass" not in str(masked)
    assert "hunter2" not in str(masked)


def test_kernel_backends_follow_redis_unless_overridden() -> None:
    plain = Settings(_env_file=None)
    assert plain.backend_url(plain.cache_url, "mem://") == "mem://"
    scaled = Settings(_env_file=None, redis_url="redis://r:6379/0", cache_url="mem://")
    assert scaled.backend_url(scaled.cache_url, "mem://") == "mem://"
    assert scaled.backend_url(scaled.ratelimit_url, "memory://") == "redis://r:6379/0"


def test_list_settings_accept_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINSPRING_HTTP_ALLOW_PRIVATE", "10.0.0.0/8, internal.example")
    monkeypatch.setenv("MAINSPRING_TRUSTED_PROXIES", "10.0.0.1,10.0.0.2")
    settings = Settings(_env_file=None)
    assert settings.http_allow_private == ["10.0.0.0/8", "internal.example"]
    assert settings.trusted_proxies == ["10.0.0.1", "10.0.0.2"]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's")
def test_password_hashes_at_once_default_to_the_cpus_the_process_may_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hash beyond the CPUs only waits, holding its 19 MiB: the default follows the CPUs."""
    monkeypatch.delenv("MAINSPRING_PASSWORD_HASH_CONCURRENCY", raising=False)
    cpus = os.sched_getaffinity(0)  # the calling thread's, as ``sched_setaffinity(0, ...)`` sets
    try:
        os.sched_setaffinity(0, {min(cpus)})
        assert Settings(_env_file=None).password_hash_concurrency == 1
        monkeypatch.setenv("MAINSPRING_PASSWORD_HASH_CONCURRENCY", "3")
        assert Settings(_env_file=None).password_hash_concurrency == 3
    finally:
        os.sched_setaffinity(0, cpus)
    monkeypatch.delenv("MAINSPRING_PASSWORD_HASH_CONCURRENCY")
    assert Settings(_env_file=None).password_hash_concurrency == min(len(cpus), 4)
