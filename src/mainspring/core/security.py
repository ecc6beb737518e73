"""Security primitives: password hashing, access tokens (JWT) and their public keys, random tokens.

Three tools, each with one job:

``PasswordHasher``
    Argon2id through pwdlib (bcrypt hashes of an older system are still verified, then upgraded).
    A hash costs tens of milliseconds of CPU and ~19 MiB of memory on purpose, so it never runs on
    the event loop: it runs on a few threads of its own (``MAINSPRING_PASSWORD_HASH_CONCURRENCY``)
    that the operating system schedules at a lower priority than the event loop (nice
    ``HASH_THREAD_NICE``). A storm of logins then queues for those threads, and while it lasts the
    event loop still gets the CPU whenever a read is waiting: reads keep their latency, logins
    take longer. Each hash's 19 MiB goes back to the operating system when it is done (see
    ``return_large_blocks_to_the_os``), so a storm leaves no lasting memory behind. Verifying for
    an account that does not exist still runs one real verification (against a dummy hash), so a
    login takes the same time whether or not the account exists.

``KeyRing``
    Signs access tokens as JWTs with EdDSA (Ed25519) and verifies them. Every token names its key
    (``kid``); the first configured key signs and the others still verify, which is how keys are
    rotated. Verification accepts one algorithm only (never ``none``, never an HMAC keyed with the
    public key), one token type (``at+jwt``, RFC 9068) and checks ``iss``, ``aud``, ``exp`` and
    ``nbf``. A token's signature is verified once: the ring remembers the tokens it verified
    (the last few thousand) and checks only their times again when they come back. The public
    keys are published at ``/.well-known/jwks.json``.

``new_token`` / ``token_digest``
    Opaque secrets (refresh, reset, verification tokens) with 256 bits of randomness. Only their
    SHA-256 digest is stored: a fast hash is right here because the input is random and long, so
    a leaked table cannot be reversed by guessing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import ctypes.util
import functools
import hashlib
import os
import secrets
import sys
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TypeVar

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import APIRouter, FastAPI, Request, Response
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher
from pwdlib.hashers.bcrypt import BcryptHasher

from mainspring.core.config import Settings, SigningKey

TOKEN_BYTES = 32  # 256 bits
ALGORITHM = "EdDSA"
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - RFC 9068: the type of JWT access tokens only
CLOCK_LEEWAY_SECONDS = 5
VERIFIED_TOKENS_REMEMBERED = 4096
"""Tokens a key ring remembers having verified (the most recently used): a few megabytes."""
DEV_KEY_FILE = "jwt-signing-key.pem"
_T = TypeVar("_T")

# --- random tokens ------------------------------------------------------------------------------


def new_token(nbytes: int = TOKEN_BYTES) -> str:
    """A URL-safe random secret of ``nbytes`` bytes (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest stored in place of a random token."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- passwords ----------------------------------------------------------------------------------


class _LegacyBcryptHasher(BcryptHasher):
    """bcrypt, kept only to verify hashes imported from an older system (then upgraded).

    bcrypt reads at most 72 bytes; the library refuses longer input instead of silently
    truncating, and a password longer than that simply does not match.
    """

    def verify(self, password: str | bytes, hash: str | bytes) -> bool:
        try:
            return super().verify(password, hash)
        except ValueError:
            return False


def normalize_password(password: str) -> str:
    """NFKC-normalise (NIST SP 800-63B) so that one password typed on two keyboards matches."""
    return unicodedata.normalize("NFKC", password)


class PasswordHasher:
    """Argon2id hashing and verification off the event loop, a bounded number at once.

    ``calls`` counts every hash or verification really computed. It is the hook tests read to
    prove that a login for an unknown account runs the hasher exactly once, like a real one.
    """

    def __init__(
        self, *, time_cost: int, memory_kib: int, parallelism: int, concurrency: int
    ) -> None:
        self._argon2 = Argon2Hasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        self._hash = PasswordHash((self._argon2, _LegacyBcryptHasher()))
        self._concurrency = concurrency
        self._threads: ThreadPoolExecutor | None = None  # started by the first hash
        self.calls = 0
        return_large_blocks_to_the_os()

    @classmethod
    def from_settings(cls, settings: Settings) -> PasswordHasher:
        return cls(
            time_cost=settings.password_hash_time_cost,
            memory_kib=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
            concurrency=settings.password_hash_concurrency,
        )

    @cached_property
    def _dummy_hash(self) -> str:
        """A hash of a random password with the current parameters, verified for unknown users."""
        return self._argon2.hash(new_token())

    async def hash(self, password: str) -> str:
        """The Argon2id hash of ``password`` (NFKC-normalised, never truncated)."""
        return await self._run(self._hash.hash, normalize_password(password))

    async def verify(self, password: str, password_hash: str | None) -> tuple[bool, str | None]:
        """Whether ``password`` matches, and a new hash when the stored one should be upgraded
        (bcrypt, or Argon2 with weaker parameters than today's).

        ``password_hash=None`` (no such account, or an account without a password) still runs one
        verification, against a dummy hash, and answers ``(False, None)``.
        """
        if password_hash is None:
            await self._run(self._verify_dummy, normalize_password(password))
            return False, None
        try:
            return await self._run(
                self._hash.verify_and_update, normalize_password(password), password_hash
            )
        except UnknownHashError:  # a malformed stored hash matches nothing
            return False, None

    def _verify_dummy(self, password: str) -> None:
        self._argon2.verify(password, self._dummy_hash)

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        """Run ``fn(*args)`` on one of the hasher's threads, waiting for a free one."""
        self.calls += 1
        if self._threads is None:
            self._threads = ThreadPoolExecutor(
                max_workers=self._concurrency,
                thread_name_prefix="password-hash",
                initializer=_lower_thread_priority,
            )
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, functools.partial(fn, *args)
        )

    def close(self) -> None:
        """Stop the hasher's threads (they end once their hash, if any, is done)."""
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
            self._threads = None


HASH_THREAD_NICE = 10
"""How much less CPU priority the hashing threads have than the event loop (Linux ``nice``):
with four of them busy, a waiting event loop gets about 70 % of a CPU instead of 20 %."""


def _lower_thread_priority() -> None:
    """Lower the calling thread's scheduling priority (Linux: priorities are per thread)."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_THREAD_NICE)


_M_MMAP_THRESHOLD = -3
LARGE_BLOCK_BYTES = 1024 * 1024
_large_blocks_returned = False


def return_large_blocks_to_the_os() -> None:
    """Make glibc serve blocks of 1 MiB and more with ``mmap``, so that freeing one unmaps it.

    By default glibc raises that threshold as large blocks are freed (up to 32 MiB), so after
    the first Argon2id hash its 19 MiB blocks come from the heaps of the hashing threads, which
    keep the memory once it is freed: a login storm left every worker some 80 MiB larger for
    good. A fixed threshold turns that dynamic adjustment off. Nothing happens elsewhere than
    on glibc (musl, macOS), where the call is absent.
    """
    global _large_blocks_returned
    if _large_blocks_returned or not sys.platform.startswith("linux"):
        return
    _large_blocks_returned = True
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES)


# --- access tokens ------------------------------------------------------------------------------


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
            "jti": new_token(16),
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


# --- installation -------------------------------------------------------------------------------

jwks_router = APIRouter(tags=["auth"])


@jwks_router.get(
    "/.well-known/jwks.json",
    summary="Public keys that verify access tokens (JWKS)",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "keys": [
                            {
                                "kty": "OKP",
                                "crv": "Ed25519",
                                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                                "kid": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
                                "use": "sig",
                                "alg": "EdDSA",
                            }
                        ]
                    }
                }
            }
        }
    },
)
async def jwks(request: Request, response: Response) -> dict[str, list[dict[str, str]]]:
    """Every key that may have signed a live access token, so other services can verify them.
    During a rotation the set holds the new signing key and the old ones until they are removed."""
    response.headers["Cache-Control"] = "public, max-age=300"
    keyring: KeyRing = request.app.state.keyring
    return keyring.jwks()


def install(app: FastAPI, settings: Settings) -> None:
    """Put the password hasher and the key ring on ``app.state``; publish the JWKS."""
    hasher = app.state.password_hasher = PasswordHasher.from_settings(settings)
    app.state.keyring = KeyRing.from_settings(settings)
    app.include_router(jwks_router)

    async def stop_hashing() -> None:
        hasher.close()

    app.state.shutdown_hooks.append(stop_hashing)
