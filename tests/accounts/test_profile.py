"""My account: reading and updating it, changing password and email, deleting it."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from mainspring.accounts.models import AccountToken, AuthSession, SecurityEvent, User
from mainspring.core.auth import Role
from tests.accounts.conftest import Mailbox
from tests.accounts.helpers import SignedInUser, create_user, sign_in, unique_name

pytestmark = pytest.mark.anyio

ME = "/api/v1/users/me"
NEW_PASSWORD = "my next long passphrase"


@pytest.fixture
async def user(app: FastAPI, client: httpx.AsyncClient) -> SignedInUser:
    return await sign_in(client, await create_user(app))


async def again(client: httpx.AsyncClient, user: SignedInUser) -> SignedInUser:
    """Another session of the same user."""
    return await sign_in(client, SignedInUser(user.id, user.email, user.username, user.password))


async def test_me_shows_only_my_own_fields(client: httpx.AsyncClient, user: SignedInUser) -> None:
    response = await client.get(ME, headers=user.headers)
    assert response.status_code == 200
    assert response.json() == {
        "id": str(user.id),
        "email": user.email,
        "username": user.username,
        "display_name": user.username,
        "role": "user",
        "email_verified": True,
        "created_at": response.json()["created_at"],
        "two_factor_enabled": False,
    }
    assert "argon2" not in response.text


async def test_update_my_display_name_and_nothing_else(
    client: httpx.AsyncClient, user: SignedInUser
) -> None:
    ok = await client.patch(ME, json={"display_name": "Ada L."}, headers=user.headers)
    assert (ok.status_code, ok.json()["display_name"]) == (200, "Ada L.")
    for field, value in (("role", "admin"), ("email", "x@example.com"), ("is_verified", False)):
        refused = await client.patch(
            ME, json={"display_name": "x", field: value}, headers=user.headers
        )
        assert refused.status_code == 422
    assert (await client.get(ME, headers=user.headers)).json()["role"] == "user"


async def test_change_password_needs_the_current_one_and_ends_other_sessions(
    client: httpx.AsyncClient, user: SignedInUser, mailbox: Mailbox
) -> None:
    laptop = await again(client, user)
    wrong = await client.post(
        f"{ME}/password",
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
        headers=user.headers,
    )
    assert (wrong.status_code, wrong.json()["code"]) == (403, "wrong-password")
    response = await client.post(
        f"{ME}/password",
        json={"current_password": user.password, "new_password": NEW_PASSWORD},
        headers=user.headers,
    )
    assert response.status_code == 204
    assert (await client.get(ME, headers=user.headers)).status_code == 200  # this session stays
    assert (await client.get(ME, headers=laptop.headers)).status_code == 401
    login = "/api/v1/auth/login"
    assert (
        await client.post(login, json={"identifier": user.email, "password": NEW_PASSWORD})
    ).status_code == 200
    [notice] = await mailbox.to(user.email)
    assert "password was changed" in notice.subject


async def test_wrong_current_passwords_count_as_failed_logins(
    client: httpx.AsyncClient, user: SignedInUser
) -> None:
    statuses = []
    for _ in range(6):
        response = await client.post(
            f"{ME}/password",
            json={"current_password": "guessing", "new_password": NEW_PASSWORD},
            headers=user.headers,
        )
        statuses.append(response.status_code)
    assert statuses == [403] * 5 + [429]
    # A stolen access token guessed the password: signing in waits too, by either identifier.
    for identifier in (user.email, user.username):
        refused = await client.post(
            "/api/v1/auth/login", json={"identifier": identifier, "password": user.password}
        )
        assert refused.status_code == 429


async def test_change_email_takes_effect_once_the_new_address_confirms(
    app: FastAPI, client: httpx.AsyncClient, user: SignedInUser, mailbox: Mailbox
) -> None:
    new_email = f"{unique_name()}@example.org"
    wrong = await client.post(
        f"{ME}/email", json={"new_email": new_email, "password": "nope"}, headers=user.headers
    )
    assert wrong.status_code == 403
    response = await client.post(
        f"{ME}/email",
        json={"new_email": new_email.upper(), "password": user.password},
        headers=user.headers,
    )
    assert response.status_code == 202
    assert (await client.get(ME, headers=user.headers)).json()["email"] == user.email

    token = await mailbox.link_token(new_email, "/confirm-email")
    confirmed = await client.post("/api/v1/auth/email/confirm", json={"token": token})
    assert confirmed.status_code == 204
    assert (await client.get(ME, headers=user.headers)).json()["email"] == new_email
    [notice] = [m for m in await mailbox.to(user.email) if "email address was changed" in m.subject]
    assert new_email not in notice.text  # the old address sees a masked form only
    assert "@example.org" in notice.text
    reused = await client.post("/api/v1/auth/email/confirm", json={"token": token})
    assert reused.status_code == 400


async def test_change_to_a_taken_email_answers_the_same_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, user: SignedInUser, mailbox: Mailbox
) -> None:
    """A signed-in user cannot probe addresses: same status, body and statements for a free
    and a taken address (the job decides what to mail); the taken one's owner is told."""
    other = await create_user(app)
    free_email = f"{unique_name()}@example.org"
    await client.get(ME, headers=user.headers)  # the session's state is cached from now on
    answers = [
        await client.post(
            f"{ME}/email",
            json={"new_email": email, "password": user.password},
            headers=user.headers,
        )
        for email in (free_email, other.email)
    ]
    free, taken = answers
    assert (
        (taken.status_code, taken.json())
        == (free.status_code, free.json())
        == (
            202,
            free.json(),
        )
    )
    assert taken.headers["x-db-statements"] == free.headers["x-db-statements"]
    [notice] = await mailbox.to(other.email)
    assert "already has" in notice.subject
    assert "token=" not in notice.text
    assert await mailbox.link_token(free_email, "/confirm-email")
    async with app.state.db.read_session() as session:
        emails = await session.scalars(select(User.email).where(User.id.in_([user.id, other.id])))
        assert set(emails) == {user.email, other.email}


async def test_email_change_mails_are_limited_per_address(
    client: httpx.AsyncClient, user: SignedInUser
) -> None:
    """No mailbox can be flooded with links or notices (3 per hour by default)."""
    target = f"{unique_name()}@example.org"
    statuses = [
        (
            await client.post(
                f"{ME}/email",
                json={"new_email": target, "password": user.password},
                headers=user.headers,
            )
        ).status_code
        for _ in range(4)
    ]
    assert statuses == [202, 202, 202, 429]


async def test_delete_my_account_erases_personal_data(
    app: FastAPI, client: httpx.AsyncClient, user: SignedInUser, mailbox: Mailbox
) -> None:
    refused = await client.request(
        "DELETE", ME, json={"password": "wrong one"}, headers=user.headers
    )
    assert refused.status_code == 403
    response = await client.request(
        "DELETE", ME, json={"password": user.password}, headers=user.headers
    )
    assert response.status_code == 204
    assert (await client.get(ME, headers=user.headers)).status_code == 401
    login = await client.post(
        "/api/v1/auth/login", json={"identifier": user.email, "password": user.password}
    )
    assert login.status_code == 401
    async with app.state.db.read_session() as session:
        row = await session.get(User, user.id)
        assert row is not None
        assert user.email not in row.email
        assert row.username.startswith("deleted-")
        assert row.password_hash is None
        assert row.deleted_at is not None
        sessions = await session.scalars(select(AuthSession).where(AuthSession.user_id == user.id))
        assert sessions.all() == []
        tokens = await session.scalars(select(AccountToken).where(AccountToken.user_id == user.id))
        assert tokens.all() == []
        events = (
            await session.scalars(select(SecurityEvent).where(SecurityEvent.user_id == user.id))
        ).all()
        assert {event.ip for event in events} == {None}
        assert "account_deleted" in {event.kind for event in events}
    # The username and email are free again.
    await create_user(app, username=user.username, email=user.email)
    [goodbye] = [m for m in await mailbox.to(user.email) if "deleted" in m.subject]
    assert goodbye.recipients == [user.email]


async def test_the_last_admin_cannot_delete_their_account(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    admin = await sign_in(client, await create_user(app, role=Role.ADMIN))
    response = await client.request(
        "DELETE", ME, json={"password": admin.password}, headers=admin.headers
    )
    assert (response.status_code, response.json()["code"]) == (409, "last-admin")
    await create_user(app, role=Role.ADMIN)
    response = await client.request(
        "DELETE", ME, json={"password": admin.password}, headers=admin.headers
    )
    assert response.status_code == 204


async def test_me_needs_a_bearer_token(
    app: FastAPI, client: httpx.AsyncClient, user: SignedInUser
) -> None:
    assert (await client.get(ME)).status_code == 401
    assert (
        await client.get(ME, headers={"Authorization": "Token " + user.access_token})
    ).status_code == 401
