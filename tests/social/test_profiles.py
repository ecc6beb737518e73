"""Profiles, follows, followers and following lists, over HTTP."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.fixtures.users import People
from tests.social.conftest import walk


async def test_a_profile_shows_counts_and_the_viewers_flags(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob, cy = await people(3)
    await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=bob.headers)
    await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=cy.headers)
    await client.put(f"/api/v1/profiles/{bob.username}/follow", headers=ada.headers)
    await client.post("/api/v1/posts", json={"body": "hello"}, headers=ada.headers)

    anonymous = await client.get(f"/api/v1/profiles/{ada.username.upper()}")
    assert anonymous.status_code == 200
    profile = anonymous.json()
    assert profile["username"] == ada.username
    assert (profile["followers_count"], profile["following_count"], profile["posts_count"]) == (
        2,
        1,
        1,
    )
    assert profile["following"] is False
    assert profile["blocking"] is False
    assert profile["bio"] is None
    assert profile["image"] is None

    seen_by_bob = (await client.get(f"/api/v1/profiles/{ada.username}", headers=bob.headers)).json()
    assert seen_by_bob["following"] is True


async def test_an_unknown_profile_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/profiles/nobody_here")
    assert response.status_code == 404
    assert response.json()["code"] == "profile-not-found"


async def test_follow_and_unfollow_are_idempotent(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    path = f"/api/v1/profiles/{ada.username}/follow"
    for _ in range(2):
        response = await client.put(path, headers=bob.headers)
        assert response.status_code == 200
        assert response.json()["following"] is True
        assert response.json()["followers_count"] == 1
    for _ in range(2):
        response = await client.delete(path, headers=bob.headers)
        assert response.status_code == 200
        assert response.json()["following"] is False
        assert response.json()["followers_count"] == 0


async def test_following_needs_a_token_and_someone_else(
    client: httpx.AsyncClient, people: People
) -> None:
    (ada,) = await people(1)
    assert (await client.put(f"/api/v1/profiles/{ada.username}/follow")).status_code == 401
    myself = await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=ada.headers)
    assert myself.status_code == 409  # well-formed; who sends it makes it impossible
    assert myself.json()["code"] == "self-interaction"
    nobody = await client.put("/api/v1/profiles/nobody_here/follow", headers=ada.headers)
    assert nobody.status_code == 404


async def test_followers_and_following_lists_newest_first(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, *fans = await people(5)
    for fan in fans:
        await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=fan.headers)
    await client.put(f"/api/v1/profiles/{fans[0].username}/follow", headers=ada.headers)

    followers = await walk(client, f"/api/v1/profiles/{ada.username}/followers", limit=3)
    assert [p["username"] for p in followers] == [fan.username for fan in reversed(fans)]
    assert all(p["following_count"] >= 1 for p in followers)

    as_fan = await walk(client, f"/api/v1/profiles/{ada.username}/followers", fans[1], limit=2)
    assert {p["username"]: p["following"] for p in as_fan}[fans[0].username] is False

    following = await walk(client, f"/api/v1/profiles/{ada.username}/following")
    assert [p["username"] for p in following] == [fans[0].username]
    assert (following[0]["followers_count"], following[0]["following_count"]) == (1, 1)


async def test_profile_lists_cost_the_same_statements_whatever_their_size(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, *fans = await people(7)
    for fan in fans:
        await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=fan.headers)
    path = f"/api/v1/profiles/{ada.username}/followers"
    await client.get(path, headers=ada.headers)  # the session check is cached from here on
    small = await client.get(path, params={"limit": 1}, headers=ada.headers)
    large = await client.get(path, params={"limit": 6}, headers=ada.headers)
    assert len(small.json()["items"]) == 1
    assert len(large.json()["items"]) == 6
    assert small.headers["x-db-statements"] == large.headers["x-db-statements"]


async def test_set_your_own_bio_and_image(client: httpx.AsyncClient, people: People) -> None:
    (ada,) = await people(1)
    assert (await client.patch("/api/v1/profiles/me", json={"bio": "x"})).status_code == 401
    response = await client.patch(
        "/api/v1/profiles/me",
        json={"bio": "Analyst of engines.", "image": "https://example.com/ada.png"},
        headers=ada.headers,
    )
    assert response.status_code == 200
    assert response.json()["bio"] == "Analyst of engines."

    kept = await client.patch(
        "/api/v1/profiles/me", json={"image": None}, headers=ada.headers
    )  # merge: bio kept, image cleared
    assert (kept.json()["bio"], kept.json()["image"]) == ("Analyst of engines.", None)

    mine = await client.get("/api/v1/profiles/me", headers=ada.headers)
    assert mine.json()["username"] == ada.username
    public = await client.get(f"/api/v1/profiles/{ada.username}")
    assert public.json()["bio"] == "Analyst of engines."


async def test_profile_input_is_validated(client: httpx.AsyncClient, people: People) -> None:
    (ada,) = await people(1)
    for body in (
        {"image": "javascript:alert(1)"},
        {"image": "http://insecure.example.com/a.png"},
        {"bio": "x" * 501},
        {"role": "admin"},
    ):
        response = await client.patch("/api/v1/profiles/me", json=body, headers=ada.headers)
        assert response.status_code == 422, body


async def test_the_social_service_serves_other_modules(app: FastAPI, people: People) -> None:
    """The interface the blog and the RealWorld adapter use (``mainspring.social.service``)."""
    from mainspring.social.service import follow_service, profile_service

    ada, bob = await people(2)
    async with app.state.db.session() as session:
        followed = await follow_service.follow(session, bob.id, ada.username)
        assert followed.following is True
        seen = await profile_service.get_profile(session, ada.username, bob.id)
        assert (seen.followers_count, seen.following) == (1, True)
        unfollowed = await follow_service.unfollow(session, bob.id, ada.username)
        assert unfollowed.following is False
