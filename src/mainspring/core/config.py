"""Settings: every knob of the service, from the environment (prefix ``MAINSPRING_``) or ``.env``.

One validated object is built at start-up and handed to ``create_app``; nothing else reads the
environment. In production the service refuses to start with a default or short secret.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from mainspring.core.config_accounts import (
    MIN_PASSWORD_HASH_MEMORY_KIB,
    MIN_PASSWORD_HASH_TIME_COST,
    IdentityProviderConfig,
    SigningKey,
    default_hash_concurrency,
    unique_provider_names,
)

DEFAULT_SECRET = "development-secret-change-me"  # noqa: S105 - refused in production
MIN_SECRET_LENGTH = 32
SECRET_FIELDS = (
    "secret_key",
    "metrics_token",
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
    database_pool_size: int | None = Field(
        None,
        ge=1,
        le=200,
        description="Connections kept per process (unset: 10 on PostgreSQL, 4 on SQLite).",
    )
    database_max_overflow: int | None = Field(
        None,
        ge=0,
        le=200,
        description="Extra connections allowed (unset: 10 on PostgreSQL, 0 on SQLite).",
    )
    database_echo: bool = Field(False, description="Log every SQL statement (development only).")
    sqlite_busy_timeout_ms: int = Field(5000, ge=0, description="SQLite busy timeout.")
    # Outages: every wait on the database is bounded; docs/operations.md explains each default.
    database_connect_timeout_seconds: float = Field(
        2.0, gt=0, le=60, description="Longest wait to open a PostgreSQL connection."
    )
    database_pool_timeout_seconds: float = Field(
        2.0, gt=0, le=60, description="Longest wait for a free pooled connection."
    )
    database_statement_timeout_ms: int = Field(
        5000,
        ge=0,
        description="PostgreSQL `statement_timeout` of every statement (0: none); the client "
        "gives up 1 s after it if the server stays silent.",
    )
    database_circuit_failures: int = Field(
        3, ge=1, le=1000, description="Failed connection attempts in a row that open the circuit."
    )
    database_circuit_open_seconds: float = Field(
        2.0,
        gt=0,
        le=300,
        description="An open circuit refuses at once (503) for this long, then lets one "
        "connection attempt probe the database.",
    )
    readiness_timeout_seconds: float = Field(
        1.0, gt=0, le=30, description="Deadline of each `/readyz` dependency check."
    )
    readiness_cache_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        description="`/readyz` reuses its last result this long; concurrent probes share one "
        "check.",
    )
    shutdown_grace_seconds: int = Field(
        10,
        ge=0,
        le=3600,
        description="On SIGTERM, time given to in-flight requests, then to running jobs.",
    )

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
    metrics_token: SecretStr | None = Field(
        None,
        description="Bearer token the Prometheus scraper sends to read /metrics; without one, "
        "/metrics answers loopback clients only (docs/operations.md).",
    )

    # Accounts: tokens, signing keys, password hashing, brute-force limits, verified email.
    # docs/security.md explains each default.
    jwt_issuer: str = Field("mainspring", description="`iss` claim of access tokens.")
    jwt_audience: str = Field("mainspring-api", description="`aud` claim of access tokens.")
    jwt_signing_keys: list[SigningKey] = Field(
        default_factory=list,
        description='JSON list of `{"kid": ..., "key": "<PEM>"}` Ed25519 keys: the first (a '
        "private key) signs, the others only verify until removed (rotation). Required in "
        "production; development generates one under MAINSPRING_JWT_KEYS_DIR.",
    )
    jwt_keys_dir: Path = Field(
        Path("var"), description="Where development keeps the signing key it generates."
    )
    access_token_ttl_seconds: int = Field(
        900, ge=60, le=3600, description="Lifetime of an access JWT."
    )
    refresh_token_ttl_seconds: int = Field(
        30 * 86_400, ge=3600, description="Absolute lifetime of a session (refresh token family)."
    )
    refresh_token_idle_seconds: int = Field(
        7 * 86_400, ge=300, description="A session unused for this long can no longer refresh."
    )
    email_verification_ttl_seconds: int = Field(
        86_400, ge=300, description="Lifetime of email verification and email change links."
    )
    password_reset_ttl_seconds: int = Field(
        1800, ge=300, le=86_400, description="Lifetime of a password reset link."
    )
    verified_email_required_for: CommaList = Field(
        default_factory=list,
        description="Actions refused until the email is verified: `login`, and any action a "
        "module checks with `require_verified_email(action)` (e.g. `publish`).",
    )
    accounts_frontend_url: str | None = Field(
        None,
        description="Front end that opens account links (`/verify-email`, `/reset-password`, "
        "`/confirm-email` with `?token=`); defaults to MAINSPRING_PUBLIC_URL.",
    )
    password_hash_time_cost: int = Field(2, ge=1, description="Argon2id iterations (t).")
    password_hash_memory_kib: int = Field(
        19_456, ge=8, description="Argon2id memory in KiB (m; 19456 = 19 MiB)."
    )
    password_hash_parallelism: int = Field(1, ge=1, le=16, description="Argon2id lanes (p).")
    password_hash_concurrency: int = Field(
        default_factory=default_hash_concurrency,
        ge=1,
        le=64,
        description="Password hashes computed at once per process (threads); default: the "
        "CPUs this process may run on, at most 4.",
    )
    login_limit_per_account: str = Field(
        "5/5minute", description="Failed logins allowed per account (normalised identifier)."
    )
    login_limit_per_ip: str = Field("20/minute", description="Failed logins allowed per IP.")
    register_limit_per_ip: str = Field("10/hour", description="Registrations allowed per IP.")
    account_mail_limit_per_address: str = Field(
        "3/hour",
        description="Password reset and verification mails that may be asked for one address.",
    )
    account_mail_limit_per_ip: str = Field(
        "10/hour", description="Password reset and verification requests allowed per IP."
    )
    two_factor_issuer: str = Field(
        "Mainspring", description="Issuer name shown by authenticator apps (TOTP)."
    )
    two_factor_challenge_ttl_seconds: int = Field(
        300, ge=60, le=900, description="Time allowed for the second sign-in step."
    )
    two_factor_limit_per_account: str = Field(
        "5/5minute", description="Wrong second-factor codes allowed per account."
    )

    # Identity providers (OIDC): sign-in through Google, GitHub or any OpenID Connect provider.
    # docs/security.md explains the flow, each check and each default.
    oidc_providers: Annotated[
        list[IdentityProviderConfig], AfterValidator(unique_provider_names)
    ] = Field(
        default_factory=list,
        description='JSON list of providers, e.g. `[{"name": "google", "kind": "google", '
        '"client_id": "...", "client_secret": "..."}]`; kinds `oidc` (with `issuer`), `google`, '
        "`github`.",
    )
    oidc_redirect_allowlist: CommaList = Field(
        default_factory=list,
        description="Origins or URL prefixes the browser may be sent back to after signing in "
        "through a provider; default MAINSPRING_ACCOUNTS_FRONTEND_URL, else MAINSPRING_PUBLIC_URL.",
    )
    oidc_login_ttl_seconds: int = Field(
        600, ge=60, le=3600, description="Time allowed to sign in at the provider."
    )
    oidc_limit_per_ip: str = Field(
        "20/minute", description="Sign-ins through a provider started per client address."
    )

    # Shop
    shop_reservation_minutes: int = Field(
        30, ge=1, le=10080, description="Minutes an unpaid order holds its stock before release."
    )
    shop_cart_ttl_days: int = Field(
        30, ge=1, le=365, description="Days an untouched cart lives before it expires."
    )
    shop_stripe_secret_key: SecretStr | None = Field(
        None, description="Stripe secret key (`sk_...`); the `stripe` provider is off without it."
    )
    shop_stripe_webhook_secret: SecretStr | None = Field(
        None, description="Signing secret (`whsec_...`) of the Stripe webhook endpoint."
    )
    shop_stripe_api_base: str | None = Field(
        None, description="Stripe API base URL (default Stripe's; tests point it at localstripe)."
    )
    shop_webhook_tolerance_seconds: int = Field(
        300, ge=1, le=3600, description="Oldest webhook signature timestamp accepted."
    )

    # Task manager
    todo_export_limit: str = Field(
        "30/minute",
        description="Task exports (`tasks.csv` and `tasks.xlsx` together) per user: each reads a "
        "whole project.",
    )

    # RealWorld
    realworld_prefix: str = Field(
        "/realworld/api",
        pattern=r"^(/[A-Za-z0-9._~-]+)+$",
        description="Path the RealWorld (Conduit) API adapter is served under.",
    )

    @field_validator(
        "cors_origins",
        "trusted_proxies",
        "verified_email_required_for",
        "http_allow_private",
        "oidc_redirect_allowlist",
        mode="before",
    )
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
        if (
            self.password_hash_memory_kib < MIN_PASSWORD_HASH_MEMORY_KIB
            or self.password_hash_time_cost < MIN_PASSWORD_HASH_TIME_COST
        ):
            problems.append("MAINSPRING_PASSWORD_HASH_* is below Argon2id's m=19 MiB, t=2")
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


class OwnValuesOnly:
    """Put first in a settings class's bases: the class then reads only the values it is given
    (and its defaults), never the environment or a ``.env`` file. For code that builds settings
    on purpose: the test suite, the benchmark harness. (A plain class: as a ``BaseSettings`` it
    would bring that class's default ``model_config`` in front of the settings class's own.)"""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)
