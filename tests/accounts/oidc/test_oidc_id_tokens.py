"""ID tokens: each check refuses what it must, end to end through the callback.

``ForgingProvider`` (``tests/accounts/oidc.py``) is an OpenID Connect provider on a real port
whose token endpoint answers the ID token the test made: a genuine one signs in (the control),
and each forgery (another audience, issuer, key, algorithm, nonce; expired...) sends the
browser back with ``error=provider_error`` and creates nothing.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from sqlalchemy import func, select

from mainspring.accounts.models import User
from mainspring.core.config import Settings
from mainspring.core.security import new_token
from tests.accounts.helpers import unique_name
from tests.accounts.oidc.provider import (
    Browser,
    ForgingProvider,
    forging_settings,
    landing,
    open_browser,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def forger() -> Iterator[ForgingProvider]:
    with ForgingProvider.running() as provider:
        yield provider


@pytest.fixture
def settings(settings: Settings, forger: ForgingProvider) -> Settings:
    return forging_settings(settings, forger)


@pytest.fixture
async def browser(app: FastAPI, client_address: str) -> AsyncIterator[Browser]:
    async with open_browser(app, client_address) as opened:
        yield opened


async def count(app: FastAPI, model: type[Any]) -> int:
    async with app.state.db.read_session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def unsigned(claims: dict[str, Any]) -> str:
    """A JWT with ``alg: none``: no signature at all."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


Forgery = Callable[[ForgingProvider, str], str]
FORGERIES: dict[str, Forgery] = {
    "another audience": lambda f, url: f.sign(f.claims(url, aud="another-client")),
    "audiences without us": lambda f, url: f.sign(f.claims(url, aud=["a", "b"])),
    "another audience, our azp": lambda f, url: f.sign(
        f.claims(url, aud=["another-client"], azp=f.client_id)
    ),
    "no audience": lambda f, url: f.sign(f.claims(url, aud=None)),
    "another issuer": lambda f, url: f.sign(f.claims(url, iss="https://evil.example")),
    "expired": lambda f, url: f.sign(f.claims(url, exp=int(time.time()) - 120)),
    "issued in the future": lambda f, url: f.sign(f.claims(url, iat=int(time.time()) + 600)),
    "another nonce": lambda f, url: f.sign(f.claims(url, nonce=new_token())),
    "no nonce": lambda f, url: f.sign(f.claims(url, nonce=None)),
    "no subject": lambda f, url: f.sign(f.claims(url, sub=None)),
    "another key, same kid": lambda f, url: f.sign(
        f.claims(url), RSAKey.generate_key(2048, {"kid": "forger"})
    ),
    "alg none": lambda f, url: unsigned(f.claims(url)),
    "HS256 keyed with the client secret": lambda f, url: jwt.encode(
        {"alg": "HS256"}, f.claims(url), OctKey.import_key(f.client_secret)
    ),
    "garbage": lambda f, url: "not.a.jwt",
}


async def test_a_genuine_id_token_of_the_forging_provider_signs_in(
    browser: Browser, forger: ForgingProvider
) -> None:
    """The control for the forgeries below: the same provider, a token made right."""
    url, sub = await browser.authorization_url("forged"), unique_name("sub")
    callback = forger.callback(url, forger.sign(forger.claims(url, sub=sub)), userinfo_sub=sub)
    assert "ticket" in landing(await browser.back(callback))


@pytest.mark.parametrize("forgery", FORGERIES.values(), ids=FORGERIES.keys())
async def test_a_forged_id_token_is_refused(
    app: FastAPI, browser: Browser, forger: ForgingProvider, forgery: Forgery
) -> None:
    url = await browser.authorization_url("forged")
    assert landing(await browser.back(forger.callback(url, forgery(forger, url)))) == {
        "error": "provider_error"
    }
    assert await count(app, User) == 0


async def test_userinfo_about_another_subject_is_refused(
    app: FastAPI, browser: Browser, forger: ForgingProvider
) -> None:
    url = await browser.authorization_url("forged")
    callback = forger.callback(url, forger.sign(forger.claims(url)), userinfo_sub="someone-else")
    assert landing(await browser.back(callback)) == {"error": "provider_error"}
    assert await count(app, User) == 0
