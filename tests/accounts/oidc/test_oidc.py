"""Signing in through an identity provider: the flow and each of its checks, end to end.

The provider is oidc-provider-mock on a real port (with PKCE enforced), the app is called
through a cookie-keeping HTTPS browser, and the provider's pages are driven as a person would
(``tests/accounts/oidc.py``). Which account a sign-in lands in is ``test_oidc_accounts.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update

from mainspring.accounts.models import IdentityLink, OidcLogin, SecurityEvent, User
from mainspring.accounts.service.oidc.redirects import is_allowed
from mainspring.app import create_app
from mainspring.core.background import enqueue
from mainspring.core.config import Settings
from mainspring.core.config_accounts import IdentityProviderConfig
from mainspring.core.db import utcnow
from mainspring.core.security import new_token, token_digest
from tests.accounts.helpers import unique_name
from tests.accounts.oidc.provider import (
    APP_PAGE,
    MOCK_DEPRECATIONS,
    OIDC,
    Browser,
    MockProvider,
    landing,
    open_browser,
    query_of,
    replace_query,
)
from tests.conftest import empty_tables
from tests.fixtures.jobs import DrainJobs

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings(MOCK_DEPRECATIONS)]

REFUSED = "mainspring_outbound_requests_refused_total"


@pytest.fixture
async def other_browser(app: FastAPI, client_address: str) -> AsyncIterator[Browser]:
    """Another browser on the same machine: same address, its own cookies."""
    async with open_browser(app, client_address) as opened:
        yield opened


async def new_subject(provider: MockProvider, *, verified: bool = True) -> tuple[str, str]:
    """A person at the provider: their subject and (fresh) email address."""
    sub, email = unique_name("sub"), f"{unique_name('fed')}@example.org"
    await provider.set_user(sub, email=email, email_verified=verified, name="Fed Person")
    return sub, email


async def count(app: FastAPI, model: type[Any]) -> int:
    async with app.state.db.read_session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def attempts(app: FastAPI) -> list[OidcLogin]:
    async with app.state.db.read_session() as session:
        return list((await session.scalars(select(OidcLogin))).all())


async def test_the_providers_are_listed_for_a_login_page(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{OIDC}/providers")
    assert response.status_code == 200
    assert response.json() == [
        {"name": "mock", "display_name": "Mock ID"},
        {"name": "mock-two", "display_name": "mock-two"},
        {"name": "github", "display_name": "GitHub"},
    ]
    assert "secret" not in response.text


async def test_a_full_sign_in_through_the_provider(
    app: FastAPI, browser: Browser, oidc_provider: MockProvider
) -> None:
    sub, email = await new_subject(oidc_provider)

    started = await browser.start()
    assert started.status_code == 303
    assert started.headers["cache-control"] == "no-store"
    location = started.headers["location"]
    assert location.startswith(f"{oidc_provider.issuer}/oauth2/authorize?")
    query = query_of(location)
    assert query["response_type"] == "code"
    assert query["client_id"] == "mainspring-tests"
    assert query["redirect_uri"] == f"https://testserver{OIDC}/mock/callback"  # public_url
    assert query["scope"].split() == ["openid", "email", "profile"]
    assert query["code_challenge_method"] == "S256"
    [cookie] = started.headers.get_list("set-cookie")
    assert cookie.startswith("mainspring_oidc=")
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", f"Path={OIDC}"):
        assert attribute.lower() in cookie.lower()

    # What the attempt keeps: digests of the state and of the browser's secret, the nonce and
    # the verifier whose S256 hash was sent.
    [attempt] = await attempts(app)
    assert attempt.state_hash == token_digest(query["state"])
    assert attempt.browser_hash == token_digest(browser.http.cookies["mainspring_oidc"])
    assert attempt.nonce == query["nonce"]
    assert create_s256_code_challenge(attempt.code_verifier) == query["code_challenge"]
    assert attempt.redirect_to == APP_PAGE
    assert len(query["state"]) >= 43
    assert len(query["nonce"]) >= 43

    back = await browser.back(await oidc_provider.sign_in(location, sub))
    assert back.headers["cache-control"] == "no-store"
    ticket = landing(back)["ticket"]
    assert len(ticket) >= 43  # 256 bits
    exchanged = await browser.exchange(ticket)
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    assert exchanged.headers["cache-control"] == "no-store"
    assert jwt.decode(tokens["access_token"], options={"verify_signature": False})["amr"] == ["fed"]
    me = await browser.http.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert (me.json()["email"], me.json()["email_verified"]) == (email, True)
    [stored] = await attempts(app)
    assert stored.ticket_hash == token_digest(ticket)
    assert stored.exchanged_at is not None


async def test_a_replayed_state_is_refused(browser: Browser, oidc_provider: MockProvider) -> None:
    sub, _ = await new_subject(oidc_provider)
    callback = await oidc_provider.sign_in(await browser.authorization_url(), sub)
    assert "ticket" in landing(await browser.back(callback))
    replayed = await browser.back(callback)
    assert replayed.status_code == 400
    assert replayed.headers["content-type"] == "application/problem+json"
    assert replayed.json()["code"] == "invalid-oidc-state"
    assert "location" not in replayed.headers


async def test_a_state_from_another_browser_session_is_refused(
    browser: Browser, other_browser: Browser, oidc_provider: MockProvider
) -> None:
    """Login CSRF: an attacker who completed a sign-in of their own cannot make another
    browser finish it, with no cookie or with a cookie of its own."""
    sub, _ = await new_subject(oidc_provider)
    callback = await oidc_provider.sign_in(await browser.authorization_url(), sub)

    without_cookie = await other_browser.back(callback)
    assert (without_cookie.status_code, without_cookie.json()["code"]) == (
        400,
        "invalid-oidc-state",
    )
    await other_browser.authorization_url()  # the other browser now has a cookie of its own
    with_its_cookie = await other_browser.back(callback)
    assert with_its_cookie.status_code == 400
    # The refusals did not use the attempt up: the browser that started it still finishes.
    assert "ticket" in landing(await browser.back(callback))


async def test_attempts_in_two_tabs_of_one_browser_both_finish(
    browser: Browser, oidc_provider: MockProvider
) -> None:
    sub, _ = await new_subject(oidc_provider)
    first = await browser.authorization_url()
    cookie = browser.http.cookies["mainspring_oidc"]
    second = await browser.authorization_url()
    assert browser.http.cookies["mainspring_oidc"] == cookie  # the browser keeps its secret
    assert "ticket" in landing(await browser.back(await oidc_provider.sign_in(second, sub)))
    assert "ticket" in landing(await browser.back(await oidc_provider.sign_in(first, sub)))


async def test_an_expired_state_is_refused(
    app: FastAPI, browser: Browser, oidc_provider: MockProvider
) -> None:
    sub, _ = await new_subject(oidc_provider)
    callback = await oidc_provider.sign_in(await browser.authorization_url(), sub)
    async with app.state.db.session() as session:
        await session.execute(update(OidcLogin).values(expires_at=utcnow() - timedelta(seconds=1)))
    expired = await browser.back(callback)
    assert (expired.status_code, expired.json()["code"]) == (400, "invalid-oidc-state")


async def test_a_state_for_another_provider_is_refused(
    browser: Browser, oidc_provider: MockProvider
) -> None:
    sub, _ = await new_subject(oidc_provider)
    callback = await oidc_provider.sign_in(await browser.authorization_url("mock"), sub)
    elsewhere = await browser.back(callback.replace("/mock/callback", "/mock-two/callback"))
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (400, "invalid-oidc-state")
    assert "ticket" in landing(await browser.back(callback))


async def test_a_callback_without_a_known_state_is_refused(browser: Browser) -> None:
    for query in ("", "?code=abc", f"?code=abc&state={new_token()}"):
        response = await browser.back(f"{OIDC}/mock/callback{query}")
        assert (response.status_code, response.json()["code"]) == (400, "invalid-oidc-state")
    unknown = await browser.back(f"{OIDC}/nobody/callback?code=abc&state=xyz")
    assert unknown.status_code == 404


async def test_an_id_token_with_another_nonce_is_refused(
    app: FastAPI, browser: Browser, oidc_provider: MockProvider
) -> None:
    """The provider signs an ID token for the nonce it was sent; one sent for another attempt
    (a token replayed or injected into this one) fails the nonce check."""
    sub, email = await new_subject(oidc_provider)
    location = await browser.authorization_url()
    callback = await oidc_provider.sign_in(replace_query(location, nonce=new_token()), sub)
    assert landing(await browser.back(callback)) == {"error": "provider_error"}
    async with app.state.db.read_session() as session:
        assert await session.scalar(select(User).where(User.email == email)) is None
    # The attempt is used up all the same.
    assert (await browser.back(callback)).status_code == 400


async def test_the_code_is_redeemed_with_the_pkce_verifier(
    browser: Browser, oidc_provider: MockProvider
) -> None:
    """A code obtained with another challenge (an intercepted code, injected into this
    attempt) cannot be redeemed with this attempt's verifier: the provider refuses."""
    sub, _ = await new_subject(oidc_provider)
    location = await browser.authorization_url()
    foreign = replace_query(location, code_challenge=create_s256_code_challenge(new_token(48)))
    assert landing(await browser.back(await oidc_provider.sign_in(foreign, sub))) == {
        "error": "provider_error"
    }


async def test_a_denial_at_the_provider_comes_back_as_an_error(
    browser: Browser, oidc_provider: MockProvider
) -> None:
    denied = await browser.back(await oidc_provider.deny(await browser.authorization_url()))
    assert landing(denied) == {"error": "access_denied"}


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/signed-in",
        "https://app.example.com.evil.example/signed-in",
        "https://app.example.com@evil.example/signed-in",
        "https://app.example.com/signed-in-elsewhere",
        "https://app.example.com/other",
        "http://app.example.com/signed-in",
        "https://app.example.com:8443/signed-in",
        "https://app.example.com/signed-in/../admin",
        "https://app.example.com/signed-in/%2e%2e/admin",
        "https://app.example.com/signed-in#fragment",
        "https://app.example.com\\@evil.example/signed-in",
        "//evil.example/signed-in",
        "/signed-in",
        "javascript:alert(1)",
    ],
)
async def test_redirect_to_outside_the_allow_list_is_refused(
    app: FastAPI, browser: Browser, target: str
) -> None:
    response = await browser.start(redirect_to=target)
    assert response.status_code == 422
    assert response.json()["code"] == "redirect-not-allowed"
    assert response.json()["errors"][0]["field"] == "body.redirect_to"
    assert "location" not in response.headers
    assert "set-cookie" not in response.headers
    assert await attempts(app) == []


def test_the_allow_list_matches_origins_and_path_prefixes(settings: Settings) -> None:
    prefix = settings.model_copy(update={"oidc_redirect_allowlist": ["https://a.example/app"]})
    assert is_allowed(prefix, "https://a.example/app")
    assert is_allowed(prefix, "https://A.EXAMPLE:443/app/done?x=1")
    assert not is_allowed(prefix, "https://a.example/application")
    origin = settings.model_copy(update={"oidc_redirect_allowlist": ["https://a.example"]})
    assert is_allowed(origin, "https://a.example/anything/at/all")
    default = settings.model_copy(
        update={"oidc_redirect_allowlist": [], "accounts_frontend_url": "https://front.example"}
    )
    assert is_allowed(default, "https://front.example/signed-in")
    assert not is_allowed(default, "https://testserver/signed-in")


async def test_a_ticket_works_once_within_its_time_from_the_browser_that_started(
    app: FastAPI, browser: Browser, other_browser: Browser, oidc_provider: MockProvider
) -> None:
    sub, _ = await new_subject(oidc_provider)
    callback = await oidc_provider.sign_in(await browser.authorization_url(), sub)
    ticket = landing(await browser.back(callback))["ticket"]

    stolen = await other_browser.exchange(ticket)  # the ticket leaked; the cookie did not
    assert (stolen.status_code, stolen.json()["code"]) == (400, "invalid-ticket")
    assert (await browser.exchange(ticket)).status_code == 200
    again = await browser.exchange(ticket)
    assert (again.status_code, again.json()["code"]) == (400, "invalid-ticket")

    late_callback = await oidc_provider.sign_in(await browser.authorization_url(), sub)
    late = landing(await browser.back(late_callback))["ticket"]
    async with app.state.db.session() as session:
        await session.execute(
            update(OidcLogin)
            .where(OidcLogin.ticket_hash == token_digest(late))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert (await browser.exchange(late)).status_code == 400


async def test_the_exchange_takes_the_cookie_option(
    browser: Browser, oidc_provider: MockProvider
) -> None:
    sub, _ = await new_subject(oidc_provider)
    ticket = landing(
        await browser.back(await oidc_provider.sign_in(await browser.authorization_url(), sub))
    )["ticket"]
    exchanged = await browser.exchange(ticket, cookie=True)
    assert exchanged.status_code == 200
    assert exchanged.json()["refresh_token"] is None
    assert "mainspring_refresh" in browser.http.cookies


@asynccontextmanager
async def app_with(settings: Settings, client_address: str) -> AsyncIterator[Browser]:
    """A browser on an app of its own, built from ``settings``."""
    app = create_app(settings)
    async with app.router.lifespan_context(app), open_browser(app, client_address) as browser:
        try:
            yield browser
            assert await attempts(app) == []
        finally:
            await empty_tables(app)


async def test_an_unreachable_provider_sends_the_browser_back_with_an_error(
    settings: Settings, client_address: str
) -> None:
    """Discovery fails (nobody listens on 127.0.0.1:9): no attempt, no cookie, and the front
    end learns why."""
    dead = settings.oidc_providers[0].model_copy(
        update={"name": "dead", "issuer": "http://127.0.0.1:9"}
    )
    with_dead = settings.model_copy(update={"oidc_providers": [dead]})
    async with app_with(with_dead, client_address) as browser:
        response = await browser.start("dead")
        assert landing(response) == {"error": "provider_unavailable"}
        assert "set-cookie" not in response.headers


async def test_the_provider_is_called_through_the_ssrf_guard(
    settings: Settings, client_address: str, oidc_provider: MockProvider
) -> None:
    """Without ``MAINSPRING_HTTP_ALLOW_PRIVATE`` a provider on a private address is refused
    by the kernel's outbound client, like any other outbound request."""
    port = oidc_provider.issuer.rsplit(":", 1)[1]
    private = settings.oidc_providers[0].model_copy(
        update={"issuer": f"http://localhost:{port}"}  # another issuer: nothing cached for it
    )
    guarded = settings.model_copy(update={"http_allow_private": [], "oidc_providers": [private]})
    refusals = REGISTRY.get_sample_value(REFUSED, {"reason": "address"}) or 0.0
    async with app_with(guarded, client_address) as browser:
        assert landing(await browser.start("mock")) == {"error": "provider_unavailable"}
    assert REGISTRY.get_sample_value(REFUSED, {"reason": "address"}) == refusals + 1


async def test_the_start_is_post_only_and_throttled_per_address(browser: Browser) -> None:
    assert (await browser.http.get(f"{OIDC}/mock/authorize")).status_code == 405
    assert (await browser.start("nobody")).status_code == 404
    for _ in range(20):  # MAINSPRING_OIDC_LIMIT_PER_IP: 20 a minute
        assert (await browser.start()).status_code == 303
    throttled = await browser.start()
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0


async def test_expired_attempts_are_purged_at_night(
    app: FastAPI, browser: Browser, drain_jobs: DrainJobs
) -> None:
    await browser.authorization_url()
    await browser.authorization_url()
    async with app.state.db.session() as session:
        first = (await session.scalars(select(OidcLogin))).first()
        assert first is not None
        first.expires_at = utcnow() - timedelta(minutes=1)
        await enqueue(session, "accounts.purge_expired", {})
    assert [outcome.status for outcome in await drain_jobs()] == ["done"]
    [kept] = await attempts(app)
    assert kept.id != first.id


async def test_no_secret_reaches_the_security_events(
    app: FastAPI, browser: Browser, oidc_provider: MockProvider
) -> None:
    sub, _ = await new_subject(oidc_provider)
    callback = await oidc_provider.sign_in(await browser.authorization_url(), sub)
    ticket = landing(await browser.back(callback))["ticket"]
    tokens = (await browser.exchange(ticket)).json()
    async with app.state.db.read_session() as session:
        events = list((await session.scalars(select(SecurityEvent))).all())
        links = await session.scalar(select(func.count()).select_from(IdentityLink))
    assert links == 1
    assert {event.kind for event in events} >= {"registered", "identity_linked"}
    text = repr([(event.kind, event.details) for event in events])
    callback_query = query_of(callback)
    for secret in (ticket, *tokens.values(), callback_query["code"], callback_query["state"]):
        assert str(secret) not in text


def test_providers_are_configured_as_json_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "MAINSPRING_OIDC_PROVIDERS",
        '[{"name": "google", "kind": "google", "client_id": "id", "client_secret": "s3cret"}]',
    )
    monkeypatch.setenv(
        "MAINSPRING_OIDC_REDIRECT_ALLOWLIST", "https://a.example/, https://b.example"
    )
    configured = Settings(_env_file=None)
    assert [provider.name for provider in configured.oidc_providers] == ["google"]
    assert configured.oidc_redirect_allowlist == ["https://a.example/", "https://b.example"]
    assert "s3cret" not in str(configured.masked())

    base = {"client_id": "id", "client_secret": "s"}
    refused: list[dict[str, Any]] = [
        {"name": "corp", "kind": "oidc"},  # no issuer
        {"name": "Bad Name", "kind": "google"},
        {"name": "gh", "kind": "github", "issuer": "https://github.com"},
        {"name": "g", "kind": "google", "api_url": "https://api.example"},
        {"name": "g", "kind": "google", "scopes": ["email"]},  # no openid
        {"name": "g", "kind": "saml"},
        {"name": "g", "kind": "google", "unknown": 1},
    ]
    for entry in refused:
        with pytest.raises(ValueError, match="validation error"):
            IdentityProviderConfig.model_validate({**base, **entry})
    twice = [{**base, "name": "g", "kind": "google"}, {**base, "name": "g", "kind": "github"}]
    with pytest.raises(ValueError, match="unique"):
        Settings(_env_file=None, oidc_providers=twice)
