"""Forged and misused access tokens are refused; signing keys rotate; JWKS publishes them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from mainspring.app import create_app
from mainspring.core.access_tokens import DEV_KEY_FILE, KeyRing, generate_private_key_pem
from mainspring.core.config import Settings
from mainspring.core.config_accounts import SigningKey
from tests.accounts.helpers import SignedInUser, create_user, sign_in
from tests.conftest import TEST_SIGNING_KEY, empty_tables

pytestmark = pytest.mark.anyio

ME = "/api/v1/users/me"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(user: SignedInUser) -> dict[str, Any]:
    return jwt.decode(user.access_token, options={"verify_signature": False})


def sign(claims: dict[str, Any], key: Ed25519PrivateKey | None = None, **header: Any) -> str:
    private = key or serialization.load_pem_private_key(TEST_SIGNING_KEY.encode(), None)
    assert isinstance(private, Ed25519PrivateKey)
    return jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": "test", **header})


async def refused(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, token
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.fixture
async def user(app: FastAPI, client: httpx.AsyncClient) -> SignedInUser:
    return await sign_in(client, await create_user(app))


async def test_the_genuine_token_works(client: httpx.AsyncClient, user: SignedInUser) -> None:
    assert (await client.get(ME, headers=user.headers)).status_code == 200
    assert (await client.get(ME)).status_code == 401


async def test_alg_none_is_refused(client: httpx.AsyncClient, user: SignedInUser) -> None:
    header = b64(json.dumps({"alg": "none", "kid": "test", "typ": "at+jwt"}).encode())
    payload = b64(json.dumps(claims_of(user)).encode())
    await refused(client, f"{header}.{payload}.")


async def test_hs256_signed_with_the_public_key_is_refused(
    client: httpx.AsyncClient, user: SignedInUser
) -> None:
    """The classic key-confusion attack: an HMAC keyed with the published public key."""
    jwk = (await client.get("/.well-known/jwks.json")).json()["keys"][0]
    public_pem = jwt.PyJWK(jwk).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64(json.dumps({"alg": "HS256", "kid": "test", "typ": "at+jwt"}).encode())
    payload = b64(json.dumps(claims_of(user)).encode())
    import hashlib
    import hmac

    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    await refused(client, f"{header}.{payload}.{b64(signature)}")


async def test_another_key_is_refused(client: httpx.AsyncClient, user: SignedInUser) -> None:
    await refused(client, sign(claims_of(user), Ed25519PrivateKey.generate(), typ="at+jwt"))
    await refused(
        client, sign(claims_of(user), Ed25519PrivateKey.generate(), typ="at+jwt", kid="x")
    )


async def test_a_tampered_payload_is_refused(client: httpx.AsyncClient, user: SignedInUser) -> None:
    header, _, signature = user.access_token.split(".")
    forged = {**claims_of(user), "sub": "00000000-0000-7000-8000-000000000001"}
    await refused(client, f"{header}.{b64(json.dumps(forged).encode())}.{signature}")


@pytest.mark.parametrize(
    "change",
    [
        {"exp": timedelta(minutes=-1)},  # expired (times are from now, when the test runs)
        {"nbf": timedelta(minutes=5)},  # not yet valid
        {"aud": "another-api"},
        {"iss": "https://evil.example"},
        {"sid": None},  # no session
        {"jti": None},
    ],
)
async def test_claims_are_checked(
    client: httpx.AsyncClient, user: SignedInUser, change: dict[str, Any]
) -> None:
    now = datetime.now(UTC)
    changed = {k: now + v if isinstance(v, timedelta) else v for k, v in change.items()}
    claims = {**claims_of(user), **changed}
    claims = {name: value for name, value in claims.items() if value is not None}
    assert (
        await client.get(ME, headers={"Authorization": f"Bearer {sign(claims, typ='at+jwt')}"})
    ).status_code == 401


async def test_a_validly_signed_token_of_another_type_is_refused(
    client: httpx.AsyncClient, user: SignedInUser
) -> None:
    await refused(client, sign(claims_of(user)))  # no typ
    await refused(client, sign(claims_of(user), typ="JWT"))
    assert (
        await client.get(
            ME, headers={"Authorization": f"Bearer {sign(claims_of(user), typ='at+jwt')}"}
        )
    ).status_code == 200  # the same claims and key with the access-token type pass


async def test_a_refresh_token_is_not_an_access_token(
    client: httpx.AsyncClient, user: SignedInUser
) -> None:
    await refused(client, user.refresh_token)
    await refused(client, "not.a.jwt")


async def test_rotation_new_key_signs_old_key_verifies_until_removed(
    settings: Settings, tmp_path: Path
) -> None:
    new_pem = generate_private_key_pem()
    old = SigningKey(kid="test", key=TEST_SIGNING_KEY)
    rotated = settings.model_copy(
        update={"jwt_signing_keys": [SigningKey(kid="2026-12", key=new_pem), old]}
    )
    removed = settings.model_copy(
        update={"jwt_signing_keys": [SigningKey(kid="2026-12", key=new_pem)]}
    )
    before = create_app(settings)
    async with before.router.lifespan_context(before):
        try:
            user = await create_user(before)
            transport = httpx.ASGITransport(app=before, client=("10.1.1.1", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                await sign_in(client, user)
            old_token = user.access_token

            for app, old_works in ((create_app(rotated), True), (create_app(removed), False)):
                async with app.router.lifespan_context(app):
                    transport = httpx.ASGITransport(app=app, client=("10.1.1.2", 1))
                    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                        kids = [
                            k["kid"] for k in (await c.get("/.well-known/jwks.json")).json()["keys"]
                        ]
                        assert kids == (["2026-12", "test"] if old_works else ["2026-12"])
                        with_old = await c.get(ME, headers={"Authorization": f"Bearer {old_token}"})
                        assert (with_old.status_code == 200) is old_works
                        new_user = await sign_in(c, user)
                        assert jwt.get_unverified_header(new_user.access_token)["kid"] == "2026-12"
                        assert (await c.get(ME, headers=new_user.headers)).status_code == 200
        finally:
            await empty_tables(before)


def test_development_generates_and_keeps_a_key(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, jwt_keys_dir=tmp_path / "keys")
    first = KeyRing.from_settings(settings)
    key_file = tmp_path / "keys" / DEV_KEY_FILE
    assert key_file.stat().st_mode & 0o777 == 0o600
    second = KeyRing.from_settings(settings)
    assert first.signing_kid == second.signing_kid  # the RFC 7638 thumbprint of the same key
    assert first.jwks() == second.jwks()
    assert "d" not in first.jwks()["keys"][0]  # public parts only


def test_production_requires_configured_keys(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, env="production", secret_key="x" * 48, jwt_keys_dir=tmp_path
    )
    with pytest.raises(ValueError, match="MAINSPRING_JWT_SIGNING_KEYS"):
        KeyRing.from_settings(settings)
    assert not (tmp_path / DEV_KEY_FILE).exists()
