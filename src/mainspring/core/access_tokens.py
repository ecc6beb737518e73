"""Access tokens: EdDSA-signed JWTs and the keys that sign and verify them.

Signs access tokens as JWTs with EdDSA (Ed25519) and verifies them. Every token names its key
(``kid``); the first configured key signs and the others still verify, which is how keys are
rotated. Verification accepts one algorithm only (never ``none``, never an HMAC keyed with the
public key), one token type (``at+jwt``, RFC 9068) and checks ``iss``, ``aud``, ``exp`` and
``nbf``. A token's signature is verified once: the ring remembers the tokens it verified
(the last few thousand) and checks only their times again when they come back. The public
keys are published at ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mainspring.core.config import Settings
from mainspring.core.config_accounts import SigningKey

ALGORITHM = "EdDSA"
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - RFC 9068: the type of JWT access tokens only
CLOCK_LEEWAY_SECONDS = 5
VERIFIED_TOKENS_REMEMBERED = 4096
"""Tokens a key ring remembers having verified (the most recently used): a few megabytes."""
DEV_KEY_FILE = "jwt-signing-key.pem"


class InvalidToken(Exception):
    """An access token that must not be accepted; the message says why (for logs only)."""


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says: who (``subject``), in which session, until when."""

    subject: uuid.UUID
    session_id: uuid.UUID
    token_id: str
    issued_at: datetime
    expires_at: datetime
    methods: tuple[str, ...]


@dataclass(frozen=True)
class _Key:
    kid: str
    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None

    def jwk(self) -> dict[str, str]:
        """The public key as a JWK (RFC 8037)."""
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(raw),
            "kid": self.kid,
            "use": "sig",
            "alg": ALGORITHM,
        }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(public: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint of a public key: a stable ``kid`` derived from the key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    canonical = f'{{"crv":"Ed25519","kty":"OKP","x":"{_b64url(raw)}"}}'
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def generate_private_key_pem() -> str:
    """A new Ed25519 private key as PKCS#8 PEM (what ``openssl genpkey -algorithm ed25519``
    writes)."""
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def _load_key(kid: str, pem: str) -> _Key:
    data = pem.encode()
    if b"PRIVATE KEY" in data:
        private = serialization.load_pem_private_key(data, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"signing key {kid!r} is not an Ed25519 key")
        return _Key(kid, private.public_key(), private)
    public = serialization.load_pem_public_key(data)
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError(f"verification key {kid!r} is not an Ed25519 key")
    return _Key(kid, public, None)


def _development_key(directory: Path) -> _Key:
    """The key development generates once and keeps (mode 0600) under ``directory``.

    ``O_EXCL`` makes the creation atomic: when several workers start at once, one writes the
    file and the others read it.
    """
    path = directory / DEV_KEY_FILE
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as file:
                file.write(generate_private_key_pem())
    key = _load_key("development", path.read_text())
    return _Key(thumbprint(key.public), key.public, key.private)


@dataclass(frozen=True)
class _Verified:
    """A token whose signature and claims were verified, with the times it is valid between."""

    claims: AccessClaims
    not_before: float
    expires_at: float


class KeyRing:
    """The signing key and the verification keys of access tokens.

    A client sends the same access token with every request until it expires, and verifying
    it is most of what authenticating a request costs: an Ed25519 signature check (about
    100 us) and PyJWT's parsing and checks (as much again). The outcome depends on the token
    and the keys alone, except for time, and a ring's keys never change (rotating them means
    a new configuration, a new process). So ``verify`` remembers, for the last
    ``VERIFIED_TOKENS_REMEMBERED`` tokens it verified, their claims and validity times; a
    remembered token is checked against the clock again, nothing else. A token is remembered
    by its exact text, and only once it has passed every check: a forged or broken one is
    verified, and refused, every time.

    Whether the token's *session* may still act is not the ring's business: ``core/auth.py``
    asks the session-state check on every request, remembered token or not.
    """

    def __init__(
        self,
        keys: Sequence[_Key],
        *,
        issuer: str,
        audience: str,
        clock: Callable[[], float] = time.time,
        remember: int = VERIFIED_TOKENS_REMEMBERED,
    ) -> None:
        if not keys or keys[0].private is None:
            raise ValueError("the first JWT key must be a private key: it signs new tokens")
        if len({key.kid for key in keys}) != len(keys):
            raise ValueError("JWT key ids (kid) must be unique")
        self._signing = keys[0]
        self._keys = {key.kid: key for key in keys}
        self.issuer = issuer
        self.audience = audience
        self._clock = clock
        # A least-recently-used cache of _verify_signed's results; exceptions are not cached.
        self._verified = lru_cache(maxsize=remember)(self._verify_signed)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """Configured keys; in development and tests without any, a generated, persisted key."""
        if settings.jwt_signing_keys:
            keys = [_configured(key) for key in settings.jwt_signing_keys]
        elif settings.env == "production":
            raise ValueError("MAINSPRING_JWT_SIGNING_KEYS must be set in production")
        else:
            keys = [_development_key(settings.jwt_keys_dir)]
        return cls(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience)

    @property
    def signing_kid(self) -> str:
        return self._signing.kid

    def issue(
        self,
        *,
        subject: uuid.UUID,
        session_id: uuid.UUID,
        ttl: timedelta,
        methods: Sequence[str] = ("pwd",),
    ) -> str:
        """A signed access token for ``subject`` in ``session_id``, valid for ``ttl``.

        ``methods`` becomes the ``amr`` claim (RFC 8176): how the user authenticated.
        """
        now = datetime.now(UTC)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(subject),
            "sid": str(session_id),
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "amr": list(methods),
        }
        assert self._signing.private is not None
        return jwt.encode(
            claims,
            self._signing.private,
            algorithm=ALGORITHM,
            headers={"kid": self._signing.kid, "typ": ACCESS_TOKEN_TYPE},
        )

    def verify(self, token: str) -> AccessClaims:
        """The claims of a valid access token; ``InvalidToken`` for anything else.

        The signature and claims are verified the first time (see the class docstring); every
        time, the token must be within its validity, with ``CLOCK_LEEWAY_SECONDS`` either side,
        as PyJWT counts it.
        """
        verified = self._verified(token)
        now = self._clock()
        if now >= verified.expires_at + CLOCK_LEEWAY_SECONDS:
            raise InvalidToken("Signature has expired")
        if now < verified.not_before - CLOCK_LEEWAY_SECONDS:
            raise InvalidToken("The token is not yet valid (nbf)")
        return verified.claims

    def _verify_signed(self, token: str) -> _Verified:
        """Every check of a token: its header, its signature, its claims (times included)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        if header.get("alg") != ALGORITHM:
            raise InvalidToken(f"algorithm {header.get('alg')!r} is not accepted")
        if header.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidToken("not an access token")
        key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise InvalidToken("unknown key id")
        try:
            claims = jwt.decode(
                token,
                key.public,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=CLOCK_LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp"]},
            )
            return _Verified(
                claims=AccessClaims(
                    subject=uuid.UUID(claims["sub"]),
                    session_id=uuid.UUID(claims["sid"]),
                    token_id=str(claims["jti"]),
                    issued_at=datetime.fromtimestamp(claims["iat"], UTC),
                    expires_at=datetime.fromtimestamp(claims["exp"], UTC),
                    methods=tuple(str(m) for m in claims.get("amr", ())),
                ),
                not_before=float(claims["nbf"]),
                expires_at=float(claims["exp"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidToken(str(exc)) from exc

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The JSON Web Key Set of every verification key (public parts only)."""
        return {"keys": [key.jwk() for key in self._keys.values()]}


def _configured(key: SigningKey) -> _Key:
    return _load_key(key.kid, key.key.get_secret_value())
