"""Settings: every knob of the service, from the environment (prefix ``MAINSPRING_``) or ``.env``.

One validated object is built at start-up and handed to ``create_app``; nothing else reads the
environment. In production the service refuses to start with a default or short secret.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET = "development-secret-change-me"  # noqa: S105 - refused in production
MIN_SECRET_LENGTH = 32
SECRET_FIELDS = (
    "secret_key",
    "database_url",
    "database_replica_url",
    "redis_url",
    "broker_url",
    "cache_url",
    "ratelimit_url",
    "pubsub_url",
    "mail_url",
)

CommaList = Annotated[list[str], NoDecode]


class Settings(BaseSettings):
    """The effective configuration. Field docs double as the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="MAINSPRING_", env_file=".env", extra="ignore", validate_default=True
    )

    env: Literal["development", "test", "production"] = Field(
        "development", description="Deployment environment; production enables strict checks."
    )
    secret_key: SecretStr = Field(
        SecretStr(DEFAULT_SECRET),
        description="Signs cursors and server-side tokens; 32+ characters in production.",
    )
    host: str = Field("127.0.0.1", description="Interface `mainspring serve` binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port `mainspring serve` listens on.")
    workers: int = Field(1, ge=1, le=64, description="Server worker processes.")
    public_url: str = Field(
        "http://127.0.0.1:8000",
        description="External base URL, used to build links in mails (never the Host header).",
    )

    database_url: str = Field(
        "sqlite+aiosqlite:///./var/mainspring.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )
    database_replica_url: str | None = Field(
        None, description="Optional read replica for read-only sessions."
    )
    database_pool_size: int = Field(10, ge=1, le=200, description="Connections kept per process.")
    database_max_overflow: int = Field(10, ge=0, le=200, description="Extra connections allowed.")
    database_echo: bool = Field(False, description="Log every SQL statement (development only).")
    sqlite_busy_timeout_ms: int = Field(5000, ge=0, description="SQLite busy timeout.")

    redis_url: str | None = Field(
        None, description="Redis URL; when set, kernel services use Redis unless overridden."
    )

    # Kernel services: each uses its own URL when set, else Redis when MAINSPRING_REDIS_URL is
    # set, else its embedded backend (no server needed).
    broker_url: str | None = Field(
        None, description="Background jobs: `database` (default) or a Redis URL (streams)."
    )
    cache_url: str | None = Field(None, description="Cache: `mem://` (default) or a Redis URL.")
    ratelimit_url: str | None = Field(
        None, description="Rate limits: `memory://` (default) or a Redis URL."
    )
    pubsub_url: str | None = Field(
        None, description="Pub/sub: `memory://` (default, one process) or a Redis URL."
    )
    mail_url: str = Field(
        "console:",
        description="Mail: `smtp://user:pass@host:port?tls=starttls|tls`, `console:` or "
        "`file:./var/mail`.",
    )
    mail_from: str = Field("Mainspring <no-reply@localhost>", description="Sender of every mail.")
    worker_in_process: bool = Field(
        True,
        description="`mainspring serve` runs a background worker in-process; false when you run "
        "`mainspring worker` separately.",
    )
    worker_concurrency: int = Field(4, ge=1, le=256, description="Jobs one worker runs at once.")
    job_max_attempts: int = Field(5, ge=1, le=100, description="Attempts before a job is dead.")
    job_lease_seconds: int = Field(
        60, ge=1, description="A running job not finished in this time is claimed again."
    )
    job_poll_seconds: float = Field(
        1.0, gt=0, description="How often an idle database worker looks for jobs."
    )
    idempotency_ttl_seconds: int = Field(
        86_400, ge=60, description="How long an Idempotency-Key's first response is replayed."
    )
    http_timeout_seconds: float = Field(10.0, gt=0, description="Outbound HTTP timeout.")
    http_allow_private: CommaList = Field(
        default_factory=list,
        description="Hosts or CIDRs that outbound HTTP may reach although private (SSRF guard).",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto = JSON in production, readable console output otherwise."
    )

    cors_origins: CommaList = Field(
        default_factory=list, description="Comma-separated origins allowed by CORS."
    )
    trusted_proxies: CommaList = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="Comma-separated proxy addresses whose X-Forwarded-* headers are trusted.",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="Largest accepted request body; larger answers 413."
    )
    docs_enabled: bool = Field(True, description="Serve /docs, /redoc and /openapi.json.")

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env == "production":
            problems = self.production_problems()
            if problems:
                raise ValueError("unsafe production settings: " + "; ".join(problems))
        return self

    def production_problems(self) -> list[str]:
        """What would make this configuration unsafe to run in production."""
        problems = []
        secret = self.secret_key.get_secret_value()
        if secret == DEFAULT_SECRET:
            problems.append("MAINSPRING_SECRET_KEY is the development default")
        elif len(secret) < MIN_SECRET_LENGTH:
            problems.append(f"MAINSPRING_SECRET_KEY is shorter than {MIN_SECRET_LENGTH} characters")
        if self.database_echo:
            problems.append("MAINSPRING_DATABASE_ECHO logs every statement")
        if "*" in self.cors_origins:
            problems.append("MAINSPRING_CORS_ORIGINS allows every origin")
        return problems

    def backend_url(self, own: str | None, embedded: str) -> str:
        """The URL a kernel service uses: its own, else Redis, else its embedded backend."""
        return own or self.redis_url or embedded

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        """The database file of an embedded SQLite URL (None for in-memory or other databases)."""
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[-1]
        return None if path in ("", ":memory:") else Path(path)

    @property
    def log_as_json(self) -> bool:
        return self.log_format == "json" or (self.log_format == "auto" and self.env == "production")

    def masked(self) -> dict[str, Any]:
        """The configuration as a dict with every secret (and URL password) masked."""
        data = self.model_dump(mode="json")
        for name in SECRET_FIELDS:
            value = data.get(name)
            if value:
                data[name] = _mask(str(value)) if "://" in str(value) else "********"
        return data


def _mask(url: str) -> str:
    """Hide the password of a URL: postgresql://user:secret@host -> postgresql://user:***@host."""
    scheme, _, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{location}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (the CLI's; the app itself receives its settings explicitly)."""
    return Settings()
