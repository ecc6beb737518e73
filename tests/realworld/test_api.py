"""The RealWorld adapter over HTTP: its shapes, statuses, errors and both authorization schemes,
on the same accounts, articles and follows as the rest of the API."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from mainspring.app import create_app
from mainspring.core.auth import Role
from mainspring.core.config import Settings
from tests.blog.writers import ARTICLES, PASSWORD, Writer, Writers

API = "/realworld/api"
TIMESTAMP = re.compile(
    r"^\d{4,}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d\.\d+(?:[+-][0-2]\d:[0-5]\d|Z)$"
)


def token(writer: Writer) -> dict[str, str]:
    return {"Authorization": f"Token {writer.token}"}


def errors(response: httpx.Response, status: int) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["errors"]
    assert list(body["errors"]) == ["body"]
    messages: list[str] = body["errors"]["body"]
    assert messages
    assert all(isinstance(message, str) for message in messages)
    return messages


async def _article(client: httpx.AsyncClient, writer: Writer, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "title": "How to train your dragon",
        "description": "Ever wonder how?",
    }
    payload |= {"body": "You have to believe", "tagList": ["training", "dragons"], **fields}
    response = await client.post(
        f"{API}/articles", json={"article": payload}, headers=token(writer)
    )
    assert response.status_code == 201, response.text
    article: dict[str, Any] = response.json()["article"]
    return article


async def test_register_login_and_the_current_user(client: httpx.AsyncClient) -> None:
    new = {"username": "jake", "email": "Jake@Jake.jake", "password": PASSWORD}
    registered = await client.post(f"{API}/users", json={"user": new})
    assert registered.status_code == 201, registered.text
    user = registered.json()["user"]
    assert user == {
        "email": "jake@jake.jake",
        "token": user["token"],
        "username": "jake",
        "bio": None,
        "image": None,
    }

    login = await client.post(
        f"{API}/users/login", json={"user": {"email": "jake@jake.jake", "password": PASSWORD}}
    )
    assert login.status_code == 200
    jwt = login.json()["user"]["token"]
    for scheme in ("Token", "Bearer"):
        me = await client.get(f"{API}/user", headers={"Authorization": f"{scheme} {jwt}"})
        assert me.status_code == 200, me.text
        assert me.json()["user"]["token"] == jwt
    # The same account and token work on Mainspring's own API.
    own = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {jwt}"})
    assert own.status_code == 200
    assert own.json()["username"] == "jake"

    updated = await client.put(
        f"{API}/user",
        json={"user": {"email": "jake@jake.jake", "bio": "I like to skateboard", "image": ""}},
        headers={"Authorization": f"Token {jwt}"},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["user"]["bio"] == "I like to skateboard"
    assert updated.json()["user"]["image"] is None


async def test_account_errors_have_the_realworld_shape(client: httpx.AsyncClient) -> None:
    new = {"username": "jake", "email": "jake@jake.jake", "password": PASSWORD}
    assert (await client.post(f"{API}/users", json={"user": new})).status_code == 201
    taken = await client.post(f"{API}/users", json={"user": new})
    assert errors(taken, 422) == ["username: taken"]
    other = {**new, "username": "jacob"}
    assert errors(await client.post(f"{API}/users", json={"user": other}), 422) == ["email: taken"]
    weak = {"username": "weak", "email": "weak@jake.jake", "password": "short"}
    assert errors(await client.post(f"{API}/users", json={"user": weak}), 422)
    invalid = await client.post(f"{API}/users", json={"user": {"username": "x"}})
    messages = errors(invalid, 422)
    assert any(message.startswith("email:") for message in messages)
    assert any(message.startswith("password:") for message in messages)
    not_json = await client.post(
        f"{API}/users", content=b"{", headers={"content-type": "application/json"}
    )
    errors(not_json, 422)

    wrong = {"user": {"email": "jake@jake.jake", "password": "not the password"}}
    errors(await client.post(f"{API}/users/login", json=wrong), 401)
    errors(await client.get(f"{API}/user"), 401)
    errors(await client.get(f"{API}/user", headers={"Authorization": "Token nonsense"}), 401)


async def test_update_user_refuses_what_needs_more_than_a_token(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    jake = await writer("jake")
    for change in (
        {"email": "new@jake.jake"},
        {"password": "a new long password"},
        {"username": "j2"},
    ):
        response = await client.put(f"{API}/user", json={"user": change}, headers=token(jake))
        assert errors(response, 422)[0].startswith(next(iter(change)))
    same = {"email": jake.email, "username": "JAKE", "password": "", "token": jake.token}
    assert (
        await client.put(f"{API}/user", json={"user": same}, headers=token(jake))
    ).status_code == 200
    bad_image = {"image": "javascript:alert(1)"}
    errors(await client.put(f"{API}/user", json={"user": bad_image}, headers=token(jake)), 422)


async def test_articles_lifecycle_with_realworld_shapes(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    jake, anna = await writer("jake"), await writer("anna")
    article = await _article(client, jake)
    assert article["slug"] == "how-to-train-your-dragon"
    assert article["tagList"] == ["dragons", "training"]  # sorted, as the suite expects
    assert TIMESTAMP.match(article["createdAt"])
    assert TIMESTAMP.match(article["updatedAt"])
    assert (article["favorited"], article["favoritesCount"]) == (False, 0)
    assert article["author"] == {"username": "jake", "bio": None, "image": None, "following": False}

    # The same article, through the blog API: one set of tables.
    own = (await client.get(f"{ARTICLES}/how-to-train-your-dragon")).json()
    assert own["status"] == "published"
    assert own["tags"] == ["training", "dragons"]

    slug_path = f"{API}/articles/{article['slug']}"
    updated = await client.put(
        slug_path, json={"article": {"body": "With two hands"}}, headers=token(jake)
    )
    assert updated.json()["article"]["body"] == "With two hands"
    errors(await client.put(slug_path, json={"article": {"body": "x"}}, headers=token(anna)), 403)
    errors(await client.put(slug_path, json={"article": {"body": "x"}}), 401)
    errors(await client.get(f"{API}/articles/no-such-article"), 404)

    favorited = await client.post(f"{slug_path}/favorite", headers=token(anna))
    assert favorited.status_code == 200
    assert (
        favorited.json()["article"]["favorited"],
        favorited.json()["article"]["favoritesCount"],
    ) == (True, 1)
    listed = (await client.get(f"{API}/articles", params={"favorited": "anna"})).json()
    assert listed["articlesCount"] == 1
    assert "body" not in listed["articles"][0]
    unfavorited = await client.delete(f"{slug_path}/favorite", headers=token(anna))
    assert unfavorited.json()["article"]["favorited"] is False

    comment = await client.post(
        f"{slug_path}/comments",
        json={"comment": {"body": "Thank you so much!"}},
        headers=token(anna),
    )
    assert comment.status_code == 201, comment.text
    created = comment.json()["comment"]
    assert isinstance(created["id"], int)
    assert TIMESTAMP.match(created["createdAt"])
    assert created["author"]["username"] == "anna"
    second = await client.post(
        f"{slug_path}/comments", json={"comment": {"body": "Again"}}, headers=token(jake)
    )
    assert second.json()["comment"]["id"] == created["id"] + 1
    comments = (await client.get(f"{slug_path}/comments")).json()["comments"]
    assert [c["body"] for c in comments] == ["Again", "Thank you so much!"]
    errors(await client.delete(f"{slug_path}/comments/{created['id']}", headers=token(jake)), 403)
    deleted = await client.delete(f"{slug_path}/comments/{created['id']}", headers=token(anna))
    assert deleted.status_code == 204
    errors(await client.delete(f"{slug_path}/comments/{created['id']}", headers=token(anna)), 404)

    tags = (await client.get(f"{API}/tags")).json()
    assert tags == {"tags": ["dragons", "training"]}

    errors(await client.delete(slug_path, headers=token(anna)), 403)
    assert (await client.delete(slug_path, headers=token(jake))).status_code == 204
    errors(await client.get(slug_path), 404)


async def test_lists_offsets_feed_and_profiles(client: httpx.AsyncClient, writer: Writers) -> None:
    jake, celeb = await writer("jake"), await writer("celeb")
    for number in range(5):
        await _article(client, celeb, title=f"Celeb {number}", tagList=["fame"])
    await _article(client, jake, title="Jake's own")

    page = (await client.get(f"{API}/articles", params={"offset": 1, "limit": 2})).json()
    assert page["articlesCount"] == 6
    assert [a["title"] for a in page["articles"]] == ["Celeb 4", "Celeb 3"]
    assert (await client.get(f"{API}/articles", params={"author": "celeb"})).json()[
        "articlesCount"
    ] == 5
    assert (await client.get(f"{API}/articles", params={"tag": "fame", "limit": 1})).json()[
        "articlesCount"
    ] == 5
    many = (await client.get(f"{API}/articles", params={"limit": 1000})).json()
    assert len(many["articles"]) == 6  # capped at 100, never refused
    errors(await client.get(f"{API}/articles", params={"offset": -1}), 422)

    assert (await client.get(f"{API}/articles/feed", headers=token(jake))).json() == {
        "articles": [],
        "articlesCount": 0,
    }
    errors(await client.get(f"{API}/articles/feed"), 401)
    profile = await client.get(f"{API}/profiles/celeb", headers=token(jake))
    assert profile.json() == {
        "profile": {"username": "celeb", "bio": None, "image": None, "following": False}
    }
    followed = await client.post(
        f"{API}/profiles/celeb/follow", json={"user": {"email": jake.email}}, headers=token(jake)
    )
    assert followed.json()["profile"]["following"] is True
    feed = (
        await client.get(f"{API}/articles/feed", params={"limit": 2}, headers=token(jake))
    ).json()
    assert feed["articlesCount"] == 5
    assert [a["title"] for a in feed["articles"]] == ["Celeb 4", "Celeb 3"]
    assert all(a["author"]["following"] for a in feed["articles"])
    unfollowed = await client.delete(f"{API}/profiles/celeb/follow", headers=token(jake))
    assert unfollowed.json()["profile"]["following"] is False
    errors(await client.get(f"{API}/profiles/nobody"), 404)
    errors(await client.post(f"{API}/profiles/celeb/follow"), 401)


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
async def test_moderators_may_delete_any_article_or_comment(
    client: httpx.AsyncClient, writer: Writers, scheme: str
) -> None:
    jake, moe = await writer("jake"), await writer("moe", role=Role.MODERATOR)
    article = await _article(client, jake)
    path = f"{API}/articles/{article['slug']}"
    await client.post(f"{path}/comments", json={"comment": {"body": "Hi"}}, headers=token(jake))
    headers = {"Authorization": f"{scheme} {moe.token}"}
    assert (await client.delete(f"{path}/comments/1", headers=headers)).status_code == 204
    assert (await client.delete(path, headers=headers)).status_code == 204


async def test_the_kernel_api_keeps_its_problem_errors(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{ARTICLES}/no-such-article")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    unknown = await client.get(f"{API}/no/such/route")
    assert unknown.status_code == 404
    schema = (await client.get("/openapi.json")).json()
    assert not any(path.startswith(API) for path in schema["paths"])


async def test_list_statements_do_not_grow_with_the_page(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    authors = [await writer("jake"), await writer("celeb")]  # 25 each: within the rate limit
    anna = await writer("anna")
    for author in authors:
        await client.post(f"{API}/profiles/{author.username}/follow", headers=token(anna))
    for number in range(50):
        article = await _article(client, authors[number % 2], title=f"Post {number}")
        if number % 3 == 0:
            await client.post(f"{API}/articles/{article['slug']}/favorite", headers=token(anna))

    async def statements(path: str, limit: int) -> int:
        response = await client.get(path, params={"limit": limit}, headers=token(anna))
        assert len(response.json()["articles"]) == limit
        return int(response.headers["x-db-statements"])

    for path in (f"{API}/articles", f"{API}/articles/feed"):
        await statements(path, 1)
        assert await statements(path, 5) == await statements(path, 50)


async def test_the_prefix_is_configurable(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"realworld_prefix": "/conduit/api"}))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        assert (await client.get("/conduit/api/tags")).json() == {"tags": []}
        assert (await client.get(f"{API}/tags")).status_code == 404
