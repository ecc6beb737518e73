"""The accounts' part of the settings: JWT signing keys, password hashing's floor and default
concurrency, and the identity providers people may sign in with (``Settings`` holds them).
"""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class SigningKey(BaseModel):
    """One JWT signing key: its id (the JWT header's ``kid``) and its Ed25519 PEM."""

    kid: str = Field(min_length=1, max_length=64)
    key: SecretStr = Field(
        description="PEM: a private key signs and verifies, a public one verifies."
    )


MIN_PASSWORD_HASH_MEMORY_KIB = 19_456  # OWASP's Argon2id floor: m=19 MiB, t=2, p=1
MIN_PASSWORD_HASH_TIME_COST = 2


# Identity providers (OIDC)
class IdentityProviderConfig(BaseModel):
    """One identity provider people may sign in with: an entry of MAINSPRING_OIDC_PROVIDERS.

    ``kind`` is ``oidc`` (any OpenID Connect provider, found through the discovery document of
    its ``issuer``), ``google`` (OpenID Connect, issuer https://accounts.google.com) or
    ``github`` (OAuth 2.0, not OpenID Connect: the profile and the verified addresses come from
    GitHub's API). A preset's URLs may be overridden: ``issuer`` for Google, the endpoints and
    ``api_url`` for GitHub (GitHub Enterprise Server, or a local server in tests).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9-]{0,31}$",
        description="URL slug: `/api/v1/auth/oidc/{name}/authorize`.",
    )
    kind: Literal["oidc", "google", "github"]
    client_id: str = Field(min_length=1, max_length=255)
    client_secret: SecretStr
    display_name: str | None = Field(None, min_length=1, max_length=64)
    scopes: list[str] | None = Field(
        None, description="Default: `openid email profile` (OIDC), `read:user user:email` (GitHub)."
    )
    issuer: str | None = Field(None, description="`oidc` (required) and `google` only.")
    authorization_endpoint: str | None = Field(None, description="`github` only.")
    token_endpoint: str | None = Field(None, description="`github` only.")
    api_url: str | None = Field(None, description="`github` only: https://api.github.com.")

    @model_validator(mode="after")
    def _fits_its_kind(self) -> IdentityProviderConfig:
        github_only = ("authorization_endpoint", "token_endpoint", "api_url")
        if self.kind == "github":
            if self.issuer is not None:
                raise ValueError("a github provider has no issuer (GitHub is not OIDC)")
        elif any(getattr(self, name) is not None for name in github_only):
            raise ValueError(f"{', '.join(github_only)} are for github providers only")
        if self.kind == "oidc" and not self.issuer:
            raise ValueError("an oidc provider needs its issuer (the discovery document's base)")
        if self.kind != "github" and self.scopes is not None and "openid" not in self.scopes:
            raise ValueError("OpenID Connect scopes must include `openid`")
        return self


def unique_provider_names(
    providers: list[IdentityProviderConfig],
) -> list[IdentityProviderConfig]:
    """``providers``, refused when two share a name (their URLs would collide)."""
    names = [provider.name for provider in providers]
    if len(set(names)) != len(names):
        raise ValueError("identity provider names must be unique")
    return providers


MAX_DEFAULT_HASH_CONCURRENCY = 4


def default_hash_concurrency() -> int:
    """The CPUs this process may run on (its affinity mask), at most 4: the default number of
    password hashes computed at once.

    A hash (Argon2id, one lane) keeps one CPU busy and holds 19 MiB until it ends; a hash
    started beyond the CPUs only waits for one, holding its memory, so more threads than
    CPUs add memory and no sign-ins a second (docs/performance.md, "A login storm's memory
    and the sign-in's ceiling"). A container limited by a CPU quota rather than a CPU set
    sees the host's CPUs: set ``MAINSPRING_PASSWORD_HASH_CONCURRENCY`` to its quota there.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity masks (macOS, Windows)
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_HASH_CONCURRENCY))
