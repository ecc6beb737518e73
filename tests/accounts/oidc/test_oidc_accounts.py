"""Which account a sign-in through a provider lands in: new accounts, links by verified email,
refusals, linking while signed in, unlinking, disabled accounts, two-factor, GitHub.

End to end like ``test_oidc.py``: oidc-provider-mock and a fake GitHub on real ports, the app
through a cookie-keeping HTTPS browser, mail through the test SMTP server.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from mainspring.accounts.models import IdentityLink, OidcLogin, SecurityEvent, User
from mainspring.core.db import utcnow
from tests.accounts.conftest import Mailbox
from tests.accounts.helpers import (
    PASSWORD,
    SignedInUser,
    create_user,
    enable_two_factor,
    sign_in,
    signed_in_user,
    unique_name,
)
from tests.accounts.oidc.provider import (
    MOCK_DEPRECATIONS,
    Browser,
    FakeGitHub,
    MockProvider,
    landing,
)

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings(MOCK_DEPRECATIONS)]

ME = "/api/v1/users/me"
IDENTITIES = "/api/v1/users/me/identities"


async def through_mock(
    browser: Browser, provider: MockProvider, sub: str, **start: Any
) -> dict[str, str]:
    """Start, sign in at the mock as ``sub``, come back: the front-end page's query."""
    location = await browser.authorization_url("mock", **start)
    return landing(await browser.back(await provider.sign_in(location, sub)))


async def tokens_through_mock(browser: Browser, provider: MockProvider, sub: str) -> str:
    """A whole sign-in as ``sub``: the access token."""
    ticket = (await through_mock(browser, provider, sub))["ticket"]
    exchanged = await browser.exchange(ticket)
    assert exchanged.status_code == 200, exchanged.text
    access_token: str = exchanged.json()["access_token"]
    return access_token


async def me(browser: Browser, access_token: str) -> dict[str, Any]:
    response = await browser.http.get(ME, headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def rows(app: FastAPI, model: type[Any], *where: Any) -> list[Any]:
    async with app.state.db.read_session() as session:
        return list((await session.scalars(select(model).where(*where))).all())


async def events(app: FastAPI, user_id: uuid.UUID) -> list[tuple[str, dict[str, Any]]]:
    found = await rows(app, SecurityEvent, SecurityEvent.user_id == user_id)
    return [(event.kind, event.details) for event in sorted(found, key=lambda e: e.created_at)]


async def test_a_first_sign_in_creates_a_verified_account_without_a_password(
    app: FastAPI, browser: Browser, oidc_provider: MockProvider
) -> None:
    taken = await create_user(app, username=unique_name("ada"))
    sub, email = unique_name("sub"), f"{unique_name('ada')}@example.org"
    await oidc_provider.set_user(
        sub,
        email=email.upper(),
        email_verified=True,
        name="Ada Lovelace",
        preferred_username=taken.username,  # taken: the new account gets it with a suffix
    )
    account = await me(browser, await tokens_through_mock(browser, oidc_provider, sub))
    assert account["email"] == email  # normalised
    assert account["email_verified"] is True
    assert account["display_name"] == "Ada Lovelace"
    assert account["username"].startswith(taken.username + "-")
    [user] = await rows(app, User, User.email == email)
    assert user.password_hash is None
    [link] = await rows(app, IdentityLink, IdentityLink.user_id == user.id)
    assert (link.provider, link.subject, link.email) == ("mock", sub, email)
    assert sorted(kind for kind, _ in await events(app, user.id)) == [
        "identity_linked",
        "login_succeeded",
        "registered",
    ]
    # No password: the password login cannot reach this account.
    login = await browser.http.post(
        "/api/v1/auth/login", json={"identifier": email, "password": PASSWORD}
    )
    assert login.status_code == 401


async def test_a_second_sign_in_finds_the_link_whatever_the_email_says_now(
    app: FastAPI, browser: Browser, oidc_provider: MockProvider
) -> None:
    sub, email = unique_name("sub"), f"{unique_name('fed')}@example.org"
    await oidc_provider.set_user(sub, email=email, email_verified=True)
    first = await me(browser, await tokens_through_mock(browser, oidc_provider, sub))
    await oidc_provider.set_user(sub, email="changed@example.org", email_verified=False)
    second = await me(browser, await tokens_through_mock(browser, oidc_provider, sub))
    assert second["id"] == first["id"]
    assert await rows(app, User, User.email == "changed@example.org") == []
    kinds = [kind for kind, _ in await events(app, uuid.UUID(first["id"]))]
    assert kinds.count("identity_login") == 1
    assert kinds.count("login_succeeded") == 2


async def test_a_verified_email_links_the_existing_account_and_its_owner_is_told(
    app: FastAPI, browser: Browser, oidc_provider: MockProvider, mailbox: Mailbox
) -> None:
    owner = await create_user(app)
    sub = unique_name("sub")
    await oidc_provider.set_user(sub, email=owner.email.upper(), email_verified=True)
    account = await me(browser, await tokens_through_mock(browser, oidc_provider, sub))
    assert account["id"] == str(owner.id)
    [link] = await rows(app, IdentityLink, IdentityLink.user_id == owner.id)
    assert link.subject == sub
    [notice] = await mailbox.to(owner.email)
    assert "Mock ID" in notice.subject
    assert "linked" in notice.text
    assert ("identity_linked", {"provider": "mock", "via": "verified_email"}) in await events(
        app, owner.id
    )


async def test_an_unverified_email_is_never_linked_and_creates_no_account(
    app: FastAPI, browser: Browser, oidc_provider: MockProvider, mailbox: Mailbox
) -> None:
    owner = await create_user(app)
    squatter = unique_name("sub")
    await oidc_provider.set_user(squatter, email=owner.email, email_verified=False)
    assert await through_mock(browser, oidc_provider, squatter) == {"error": "email_not_verified"}
    assert await rows(app, IdentityLink) == []
    assert ("identity_link_refused", {"provider": "mock", "reason": "email_not_verified"}) in (
        await events(app, owner.id)
    )
    assert await mailbox.to(owner.email) == []

    stranger, email = unique_name("sub"), f"{unique_name('new')}@example.org"
    await oidc_provider.set_user(stranger, email=email, email_verified=False)
    assert await through_mock(browser, oidc_provider, stranger) == {"error": "email_not_verified"}
    no_email = unique_name("sub")
    await oidc_provider.set_user(no_email, name="Nobody")
    assert await through_mock(browser, oidc_provider, no_email) == {"error": "email_not_verified"}
    async with app.state.db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 1


async def test_an_account_that_never_verified_its_email_is_not_linked(
    app: FastAPI, browser: Browser, oidc_provider: MockProvider
) -> None:
    """Pre-hijacking: someone registered the address (and knows the password) before its owner
    came with the provider; linking would share the account with them."""
    squatted = await create_user(app, verified=False)
    sub = unique_name("sub")
    await oidc_provider.set_user(sub, email=squatted.email, email_verified=True)
    assert await through_mock(browser, oidc_provider, sub) == {"error": "account_not_verified"}
    assert await rows(app, IdentityLink) == []


async def test_a_disabled_account_is_refused(
    app: FastAPI, browser: Browser, oidc_provider: MockProvider
) -> None:
    sub, email = unique_name("sub"), f"{unique_name('fed')}@example.org"
    await oidc_provider.set_user(sub, email=email, email_verified=True)
    await tokens_through_mock(browser, oidc_provider, sub)
    ticket = (await through_mock(browser, oidc_provider, sub))["ticket"]

    async with app.state.db.session() as session:
        await session.execute(update(User).where(User.email == email).values(disabled_at=utcnow()))
    refused = await browser.exchange(ticket)  # disabled between the callback and the exchange
    assert (refused.status_code, refused.json()["code"]) == (403, "account-disabled")
    assert await through_mock(browser, oidc_provider, sub) == {"error": "account_disabled"}
    owner = await create_user(app)
    async with app.state.db.session() as session:
        await session.execute(update(User).where(User.id == owner.id).values(disabled_at=utcnow()))
    by_email = unique_name("sub")
    await oidc_provider.set_user(by_email, email=owner.email, email_verified=True)
    assert await through_mock(browser, oidc_provider, by_email) == {"error": "account_disabled"}
    assert await rows(app, IdentityLink, IdentityLink.user_id == owner.id) == []


async def test_a_two_factor_account_gets_the_second_step_after_the_provider(
    app: FastAPI, browser: Browser, client: httpx.AsyncClient, oidc_provider: MockProvider
) -> None:
    user = await signed_in_user(app, client)
    authenticator = await enable_two_factor(client, user)
    sub = unique_name("sub")
    await oidc_provider.set_user(sub, email=user.email, email_verified=True)
    ticket = (await through_mock(browser, oidc_provider, sub))["ticket"]

    challenged = await browser.exchange(ticket)
    assert (challenged.status_code, challenged.json()["code"]) == (403, "mfa-required")
    assert "access_token" not in challenged.json()
    assert (await browser.exchange(ticket)).status_code == 400  # spent all the same
    finished = await browser.http.post(
        "/api/v1/auth/login/two-factor",
        json={"mfa_token": challenged.json()["mfa_token"], "code": authenticator.fresh_code()},
    )
    assert finished.status_code == 200, finished.text
    claims = jwt.decode(finished.json()["access_token"], options={"verify_signature": False})
    assert claims["sub"] == str(user.id)
    assert claims["amr"] == ["fed", "otp", "mfa"]


async def test_a_signed_in_user_links_a_provider(
    app: FastAPI,
    browser: Browser,
    client: httpx.AsyncClient,
    oidc_provider: MockProvider,
    mailbox: Mailbox,
) -> None:
    """Linking takes no email into account (the user proved both sides); the link then signs
    in as the user."""
    user = await signed_in_user(app, client)
    sub = unique_name("sub")
    await oidc_provider.set_user(sub, email="elsewhere@example.net", email_verified=False)
    assert await through_mock(browser, oidc_provider, sub, headers=user.headers) == {
        "linked": "mock"
    }
    [identity] = (await client.get(IDENTITIES, headers=user.headers)).json()
    assert identity["provider"] == "mock"
    assert identity["display_name"] == "Mock ID"
    assert identity["email"] == "elsewhere@example.net"
    [notice] = await mailbox.to(user.email)
    assert "linked" in notice.subject
    assert (await me(browser, await tokens_through_mock(browser, oidc_provider, sub)))["id"] == (
        str(user.id)
    )


async def test_linking_with_the_access_token_in_the_form(
    app: FastAPI, browser: Browser, client: httpx.AsyncClient, oidc_provider: MockProvider
) -> None:
    """A plain form cannot send a header: the token may come as the ``access_token`` field
    (RFC 6750 2.2); a bad one is 401, both at once 400."""
    user = await signed_in_user(app, client)
    sub = unique_name("sub")
    await oidc_provider.set_user(sub)
    assert await through_mock(browser, oidc_provider, sub, access_token=user.access_token) == {
        "linked": "mock"
    }
    assert (await browser.start(access_token="not.a.token")).status_code == 401
    both = await browser.start(access_token=user.access_token, headers=user.headers)
    assert both.status_code == 400


async def test_linking_refuses_an_identity_of_another_account_and_a_second_one_per_provider(
    app: FastAPI, browser: Browser, client: httpx.AsyncClient, oidc_provider: MockProvider
) -> None:
    first, second = await signed_in_user(app, client), await signed_in_user(app, client)
    sub, other_sub = unique_name("sub"), unique_name("sub")
    await oidc_provider.set_user(sub)
    await oidc_provider.set_user(other_sub)
    await through_mock(browser, oidc_provider, sub, headers=first.headers)
    assert await through_mock(browser, oidc_provider, sub, headers=second.headers) == {
        "error": "identity_in_use"
    }
    assert await through_mock(browser, oidc_provider, other_sub, headers=first.headers) == {
        "error": "provider_already_linked"
    }
    assert await through_mock(browser, oidc_provider, sub, headers=first.headers) == {
        "linked": "mock"  # linked already: nothing changes
    }
    assert len(await rows(app, IdentityLink)) == 1


async def unlink(client: httpx.AsyncClient, user: SignedInUser) -> httpx.Response:
    [identity] = (await client.get(IDENTITIES, headers=user.headers)).json()
    return await client.delete(f"{IDENTITIES}/{identity['id']}", headers=user.headers)


async def test_the_last_way_to_sign_in_cannot_be_unlinked(
    app: FastAPI, browser: Browser, client: httpx.AsyncClient, oidc_provider: MockProvider
) -> None:
    sub, email = unique_name("sub"), f"{unique_name('fed')}@example.org"
    await oidc_provider.set_user(sub, email=email, email_verified=True)
    access_token = await tokens_through_mock(browser, oidc_provider, sub)
    account = await me(browser, access_token)
    federated = SignedInUser(
        id=uuid.UUID(account["id"]),
        email=email,
        username=account["username"],
        password="",
        access_token=access_token,
    )
    refused = await unlink(client, federated)
    assert (refused.status_code, refused.json()["code"]) == (409, "last-sign-in-method")

    second = unique_name("sub")
    await oidc_provider.set_user(second)
    second_link = await browser.authorization_url("mock-two", headers=federated.headers)
    assert landing(await browser.back(await oidc_provider.sign_in(second_link, second))) == {
        "linked": "mock-two"
    }
    identities = (await client.get(IDENTITIES, headers=federated.headers)).json()
    assert [identity["provider"] for identity in identities] == ["mock", "mock-two"]
    removed = await client.delete(f"{IDENTITIES}/{identities[0]['id']}", headers=federated.headers)
    assert removed.status_code == 204


async def test_unlinking_with_a_password_left(
    app: FastAPI,
    browser: Browser,
    client: httpx.AsyncClient,
    oidc_provider: MockProvider,
    mailbox: Mailbox,
) -> None:
    user = await signed_in_user(app, client)
    sub = unique_name("sub")
    await oidc_provider.set_user(sub)
    await through_mock(browser, oidc_provider, sub, headers=user.headers)
    other = await signed_in_user(app, client)
    [identity] = (await client.get(IDENTITIES, headers=user.headers)).json()
    not_mine = await client.delete(f"{IDENTITIES}/{identity['id']}", headers=other.headers)
    assert not_mine.status_code == 404

    assert (await unlink(client, user)).status_code == 204
    assert (await client.get(IDENTITIES, headers=user.headers)).json() == []
    assert any("unlinked" in mail.subject for mail in await mailbox.to(user.email))
    assert ("identity_unlinked", {"provider": "mock"}) in await events(app, user.id)
    # The provider account no longer signs in (and has no verified email to link by).
    assert await through_mock(browser, oidc_provider, sub) == {"error": "email_not_verified"}


async def test_deleting_the_account_removes_its_links(
    app: FastAPI, browser: Browser, client: httpx.AsyncClient, oidc_provider: MockProvider
) -> None:
    user = await signed_in_user(app, client)
    sub = unique_name("sub")
    await oidc_provider.set_user(sub)
    await through_mock(browser, oidc_provider, sub, headers=user.headers)
    deleted = await client.request(
        "DELETE", ME, json={"password": user.password}, headers=user.headers
    )
    assert deleted.status_code == 204
    assert await rows(app, IdentityLink) == []
    assert await rows(app, OidcLogin) == []


async def github_sign_in(
    browser: Browser, github: FakeGitHub, user: dict[str, Any], emails: list[dict[str, Any]]
) -> dict[str, str]:
    location = await browser.authorization_url("github")
    return landing(await browser.back(github.sign_in(location, user=user, emails=emails)))


async def test_github_signs_in_with_its_verified_primary_address(
    app: FastAPI, browser: Browser, github: FakeGitHub
) -> None:
    login, email = unique_name("octo"), f"{unique_name('octo')}@example.org"
    profile = {"id": random.randrange(10**9), "login": login, "name": "Octo Cat"}
    emails = [
        {"email": f"old-{email}", "primary": False, "verified": True},
        {"email": email, "primary": True, "verified": True},
        {"email": f"unverified-{email}", "primary": False, "verified": False},
    ]
    ticket = (await github_sign_in(browser, github, profile, emails))["ticket"]
    exchanged = await browser.exchange(ticket)
    assert exchanged.status_code == 200, exchanged.text
    account = await me(browser, exchanged.json()["access_token"])
    assert (account["email"], account["username"]) == (email, login)
    [link] = await rows(app, IdentityLink, IdentityLink.provider == "github")
    assert link.subject == str(profile["id"])  # the number, never the renamable login

    renamed = {**profile, "login": unique_name("renamed")}
    again = (await github_sign_in(browser, github, renamed, emails))["ticket"]
    assert (await me(browser, (await browser.exchange(again)).json()["access_token"]))["id"] == (
        account["id"]
    )


async def test_github_without_a_verified_address_is_refused(
    app: FastAPI, browser: Browser, github: FakeGitHub
) -> None:
    owner = await create_user(app)
    profile = {"id": random.randrange(10**9), "login": unique_name("octo"), "name": None}
    emails = [{"email": owner.email, "primary": True, "verified": False}]
    assert await github_sign_in(browser, github, profile, emails) == {"error": "email_not_verified"}
    assert await rows(app, IdentityLink) == []


async def test_a_code_github_refuses_comes_back_as_a_provider_error(
    browser: Browser, github: FakeGitHub
) -> None:
    location = await browser.authorization_url("github")
    callback = github.sign_in(location, user={"id": 1, "login": "x"}, emails=[])
    github.grants.clear()  # the code expired at GitHub
    assert landing(await browser.back(callback)) == {"error": "provider_error"}


async def test_a_password_sign_in_still_works_for_a_linked_account(
    app: FastAPI, browser: Browser, client: httpx.AsyncClient, oidc_provider: MockProvider
) -> None:
    user = await signed_in_user(app, client)
    sub = unique_name("sub")
    await oidc_provider.set_user(sub)
    await through_mock(browser, oidc_provider, sub, headers=user.headers)
    again = await sign_in(client, user)
    claims = jwt.decode(again.access_token, options={"verify_signature": False})
    assert claims["amr"] == ["pwd"]
