"""Security wiring and random tokens.

``install`` puts the password hasher (``core/passwords.py``) and the key ring of access tokens
(``core/access_tokens.py``) on the application and publishes the ring's public keys at
``/.well-known/jwks.json``.

``new_token`` / ``token_digest``: opaque secrets (refresh, reset, verification tokens) with 256
bits of randomness. Only their SHA-256 digest is stored: a fast hash is right here because the
input is random and long, so a leaked table cannot be reversed by guessing.
"""

from __future__ import annotations

import hashlib
import secrets

from fastapi import APIRouter, FastAPI, Request, Response

from mainspring.core.access_tokens import KeyRing
from mainspring.core.config import Settings
from mainspring.core.passwords import PasswordHasher

TOKEN_BYTES = 32  # 256 bits


def new_token(nbytes: int = TOKEN_BYTES) -> str:
    """A URL-safe random secret of ``nbytes`` bytes (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest stored in place of a random token."""
    return hashlib.sha256(token.encode()).hexdigest()


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
