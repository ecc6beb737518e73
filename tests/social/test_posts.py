"""Posts, replies, quotes, reposts, likes and deletion, over HTTP."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from mainspring.core.auth import Role
from tests.accounts.helpers import signed_in_user
from tests.fixtures.users import People
from tests.social.conftest import post, walk


async def test_a_post_links_its_hashtags_and_the_mentions_of_real_users(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    body = f"Reading about #Databases with @{bob.username} and @nobody_at_all #2024"
    response = await client.post("/api/v1/posts", json={"body": body}, headers=ada.headers)
    assert response.status_code == 201
    created = response.json()
    assert response.headers["location"] == f"/api/v1/posts/{created['id']}"
    assert created["kind"] == "post"
    assert created["author"]["username"] == ada.username
    entities = created["entities"]
    assert [(e["kind"], e["value"]) for e in entities] == [
        ("hashtag", "databases"),
        ("mention", bob.username),
    ]
    hashtag, mention = entities
    assert body[hashtag["start"] : hashtag["end"]] == "#Databases"
    assert hashtag["href"] == "/api/v1/hashtags/databases/posts"
    assert body[mention["start"] : mention["end"]] == f"@{bob.username}"
    assert mention["href"] == f"/api/v1/profiles/{bob.username}"

    fetched = await client.get(f"/api/v1/posts/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_post_input_is_validated(client: httpx.AsyncClient, people: People) -> None:
    (ada,) = await people(1)
    first = await post(client, ada, "first")
    for body in (
        {"body": ""},
        {"body": "   "},
        {"body": "x" * 281},
        {"body": "both", "reply_to_id": first["id"], "quote_of_id": first["id"]},
        {"body": "hi", "author_id": first["id"]},
    ):
        response = await client.post("/api/v1/posts", json=body, headers=ada.headers)
        assert response.status_code == 422, body
    assert (
        await client.post("/api/v1/posts", json={"body": "x" * 280}, headers=ada.headers)
    ).status_code == 201
    assert (await client.post("/api/v1/posts", json={"body": "anonymous"})).status_code == 401


async def test_a_reply_or_quote_of_no_post_is_a_conflict_not_a_404(
    client: httpx.AsyncClient, people: People
) -> None:
    """The body names a post that does not exist; the URL (``/posts``) does: 409."""
    (ada,) = await people(1)
    for field in ("reply_to_id", "quote_of_id"):
        response = await client.post(
            "/api/v1/posts", json={"body": "hi", field: str(uuid.uuid4())}, headers=ada.headers
        )
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "unknown-post"
        assert response.json()["errors"][0]["field"] == f"body.{field}"


async def test_replies_form_a_thread_read_oldest_first(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    root = await post(client, ada, "What is your favourite index?")
    answers = [await post(client, bob, f"answer {i}", reply_to_id=root["id"]) for i in range(4)]
    assert all(a["kind"] == "reply" and a["reply_to_id"] == root["id"] for a in answers)

    thread = await walk(client, f"/api/v1/posts/{root['id']}/replies", limit=3)
    assert [r["id"] for r in thread] == [a["id"] for a in answers]
    assert (await client.get(f"/api/v1/posts/{root['id']}")).json()["reply_count"] == 4

    missing = await client.post(
        "/api/v1/posts",
        json={"body": "to nothing", "reply_to_id": "00000000-0000-7000-8000-000000000000"},
        headers=bob.headers,
    )
    assert missing.status_code == 409  # the body names no post: not a 404
    assert missing.json()["code"] == "unknown-post"


async def test_likes_are_counted_once_and_flag_the_viewer(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob, cy = await people(3)
    target = await post(client, ada, "like me")
    path = f"/api/v1/posts/{target['id']}/like"
    for _ in range(2):
        liked = await client.put(path, headers=bob.headers)
        assert liked.status_code == 200
        assert (liked.json()["like_count"], liked.json()["liked"]) == (1, True)
    await client.put(path, headers=cy.headers)

    as_ada = (await client.get(f"/api/v1/posts/{target['id']}", headers=ada.headers)).json()
    assert (as_ada["like_count"], as_ada["liked"]) == (2, False)

    for _ in range(2):
        unliked = await client.delete(path, headers=bob.headers)
        assert (unliked.json()["like_count"], unliked.json()["liked"]) == (1, False)
    assert (await client.put(path)).status_code == 401


async def test_who_liked_a_post_most_recent_first_in_fixed_statements(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob, cy, dee, troll = await people(5)
    target = await post(client, ada, "like me")
    for liker in (bob, cy, dee, troll):
        await client.put(f"/api/v1/posts/{target['id']}/like", headers=liker.headers)
    await client.put(f"/api/v1/profiles/{troll.username}/block", headers=ada.headers)
    path = f"/api/v1/posts/{target['id']}/likes"

    anonymous = await walk(client, path, limit=2)
    assert [p["username"] for p in anonymous] == [
        troll.username,
        dee.username,
        cy.username,
        bob.username,
    ]
    await client.put(f"/api/v1/profiles/{cy.username}/follow", headers=bob.headers)
    as_bob = await walk(client, path, bob, limit=2)
    assert [p["following"] for p in as_bob] == [False, False, True, False]
    # Ada blocked the troll: her view of the list leaves the troll out.
    as_ada = await walk(client, path, ada)
    assert [p["username"] for p in as_ada] == [dee.username, cy.username, bob.username]
    # The list of a repost is its original's: the repost itself is never liked.
    repost = (await client.put(f"/api/v1/posts/{target['id']}/repost", headers=bob.headers)).json()
    via_repost = await walk(client, f"/api/v1/posts/{repost['id']}/likes", cy)
    assert [p["username"] for p in via_repost] == [p["username"] for p in anonymous]

    statements = set()
    for limit in (1, 3):
        response = await client.get(path, params={"limit": limit}, headers=cy.headers)
        statements.add(response.headers["X-DB-Statements"])
    assert len(statements) == 1
    hidden = await client.get(path, headers=troll.headers)
    assert hidden.status_code == 403
    missing = await client.get(f"/api/v1/posts/{uuid.uuid4()}/likes")
    assert missing.status_code == 404


async def test_reposting_twice_gives_back_the_same_repost(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    original = await post(client, ada, "worth sharing")
    path = f"/api/v1/posts/{original['id']}/repost"
    first = await client.put(path, headers=bob.headers)
    assert first.status_code == 201
    repost = first.json()
    assert first.headers["location"] == f"/api/v1/posts/{repost['id']}"
    assert (repost["kind"], repost["body"]) == ("repost", "")
    assert repost["original"]["id"] == original["id"]
    assert repost["original"]["repost_count"] == 1
    assert repost["original"]["reposted"] is True

    again = await client.put(path, headers=bob.headers)
    assert (again.status_code, again.json()["id"]) == (200, repost["id"])

    # Acting on the repost acts on its original.
    via_repost = await client.put(f"/api/v1/posts/{repost['id']}/like", headers=ada.headers)
    assert via_repost.json()["id"] == original["id"]
    assert via_repost.json()["like_count"] == 1

    assert (await client.delete(path, headers=bob.headers)).status_code == 204
    assert (await client.get(f"/api/v1/posts/{repost['id']}")).status_code == 404
    assert (await client.get(f"/api/v1/posts/{original['id']}")).json()["repost_count"] == 0


async def test_a_quote_embeds_its_original(client: httpx.AsyncClient, people: People) -> None:
    ada, bob = await people(2)
    original = await post(client, ada, "a bold claim")
    quote = await post(client, bob, "I disagree", quote_of_id=original["id"])
    assert quote["kind"] == "quote"
    assert quote["original"]["id"] == original["id"]
    assert quote["original"]["author"]["username"] == ada.username
    assert (await client.get(f"/api/v1/posts/{original['id']}")).json()["quote_count"] == 1


async def test_deleting_a_post_keeps_its_replies_and_quotes(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    root = await post(client, ada, "soon gone")
    reply = await post(client, bob, "a reply", reply_to_id=root["id"])
    quote = await post(client, bob, "a quote", quote_of_id=root["id"])
    repost = (await client.put(f"/api/v1/posts/{root['id']}/repost", headers=bob.headers)).json()

    assert (
        await client.delete(f"/api/v1/posts/{root['id']}", headers=ada.headers)
    ).status_code == 204

    assert (await client.get(f"/api/v1/posts/{root['id']}")).status_code == 404
    assert (await client.get(f"/api/v1/posts/{repost['id']}")).status_code == 404
    kept_reply = (await client.get(f"/api/v1/posts/{reply['id']}")).json()
    assert (kept_reply["kind"], kept_reply["reply_to_id"]) == ("reply", None)
    kept_quote = (await client.get(f"/api/v1/posts/{quote['id']}")).json()
    assert (kept_quote["kind"], kept_quote["original"]) == ("quote", None)


async def test_deleting_a_reply_gives_its_parent_back_its_count(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    root = await post(client, ada, "root")
    reply = await post(client, bob, "reply", reply_to_id=root["id"])
    await client.delete(f"/api/v1/posts/{reply['id']}", headers=bob.headers)
    assert (await client.get(f"/api/v1/posts/{root['id']}")).json()["reply_count"] == 0


async def test_nobody_deletes_another_users_post_but_a_moderator(
    app: FastAPI, client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    target = await post(client, ada, "mine")
    refused = await client.delete(f"/api/v1/posts/{target['id']}", headers=bob.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "not-your-post"
    assert (await client.delete(f"/api/v1/posts/{target['id']}")).status_code == 401
    assert (await client.get(f"/api/v1/posts/{target['id']}")).status_code == 200

    moderator = await signed_in_user(app, client, role=Role.MODERATOR)
    removed = await client.delete(f"/api/v1/posts/{target['id']}", headers=moderator.headers)
    assert removed.status_code == 204
    gone = await client.delete(f"/api/v1/posts/{target['id']}", headers=ada.headers)
    assert gone.status_code == 404


async def test_posting_is_rate_limited_per_user(client: httpx.AsyncClient, people: People) -> None:
    ada, bob = await people(2)
    statuses = [
        (
            await client.post("/api/v1/posts", json={"body": f"n{i}"}, headers=ada.headers)
        ).status_code
        for i in range(31)
    ]
    assert statuses == [201] * 30 + [429]
    assert (
        await client.post("/api/v1/posts", json={"body": "hi"}, headers=bob.headers)
    ).status_code == 201


async def test_a_post_and_a_profile_answer_304_while_unchanged(
    client: httpx.AsyncClient, people: People
) -> None:
    ada, bob = await people(2)
    target = await post(client, ada, "cache me")
    post_path, profile_path = f"/api/v1/posts/{target['id']}", f"/api/v1/profiles/{ada.username}"
    etags = {}
    for path in (post_path, profile_path):
        first = await client.get(path, headers=bob.headers)
        etags[path] = first.headers["etag"]
        assert etags[path].startswith('W/"')
        assert "Authorization" in first.headers["vary"]
        same = await client.get(path, headers={**bob.headers, "If-None-Match": etags[path]})
        assert (same.status_code, same.content, same.headers["etag"]) == (304, b"", etags[path])

    # What changes the representation changes the tag: a counter, the viewer's own flag...
    await client.put(f"/api/v1/posts/{target['id']}/like", headers=bob.headers)
    liked = await client.get(post_path, headers={**bob.headers, "If-None-Match": etags[post_path]})
    assert (liked.status_code, liked.json()["liked"]) == (200, True)
    # ... and the viewer: Ada does not like her post, so her view of it is another state.
    as_ada = await client.get(post_path, headers=ada.headers)
    assert as_ada.headers["etag"] not in (etags[post_path], liked.headers["etag"])
    await client.put(f"/api/v1/profiles/{ada.username}/follow", headers=bob.headers)
    followed = await client.get(
        profile_path, headers={**bob.headers, "If-None-Match": etags[profile_path]}
    )
    assert (followed.status_code, followed.json()["following"]) == (200, True)
    await client.patch("/api/v1/profiles/me", json={"bio": "new"}, headers=ada.headers)
    rewritten = await client.get(
        profile_path, headers={**bob.headers, "If-None-Match": followed.headers["etag"]}
    )
    assert (rewritten.status_code, rewritten.json()["bio"]) == (200, "new")


async def test_a_retried_post_with_an_idempotency_key_is_written_once(
    client: httpx.AsyncClient, people: People
) -> None:
    (ada,) = await people(1)
    headers = {**ada.headers, "Idempotency-Key": "8d0c6a9e-post-once"}
    first = await client.post("/api/v1/posts", json={"body": "once"}, headers=headers)
    retry = await client.post("/api/v1/posts", json={"body": "once"}, headers=headers)
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json()["id"] == first.json()["id"]
    assert retry.headers["idempotent-replayed"] == "true"
    other = await client.post("/api/v1/posts", json={"body": "twice?"}, headers=headers)
    assert other.status_code == 422
    assert len(await walk(client, f"/api/v1/profiles/{ada.username}/posts")) == 1
