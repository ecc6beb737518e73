"""Articles over HTTP: writing, reading, changing and deleting them, and who may."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
from fastapi import FastAPI

from mainspring.accounts.models import User
from mainspring.core.auth import Role
from mainspring.core.db import utcnow
from tests.blog.writers import ARTICLES, Writers, publish

PROBLEM = "application/problem+json"


def _elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every element of ``html`` as a browser would parse it: its tag and attributes."""
    found: list[tuple[str, dict[str, str | None]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, dict(attrs)))

    Collector().feed(html)
    return found


async def test_an_article_is_created_with_a_slug_html_and_tags_in_order(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    response = await client.post(
        ARTICLES,
        json={
            "title": "How to Train Your Dragon!",
            "description": "Ever wonder how?",
            "body": "## Step one\n\nBe **patient**.",
            "tags": ["Training", "dragons", "training", " Fire  breathing "],
            "status": "published",
        },
        headers=ada.headers,
    )
    assert response.status_code == 201, response.text
    article = response.json()
    assert article["slug"] == "how-to-train-your-dragon"
    assert response.headers["location"] == "/api/v1/articles/how-to-train-your-dragon"
    assert response.headers["etag"].startswith('W/"')
    assert article["tags"] == ["training", "dragons", "fire breathing"]
    assert article["body_html"] == "<h2>Step one</h2>\n<p>Be <strong>patient</strong>.</p>\n"
    assert article["status"] == "published"
    assert article["published_at"] is not None
    assert article["favorites_count"] == 0
    assert article["favorited"] is False
    assert article["author"] == {
        "username": "ada",
        "display_name": "ada",
        "bio": None,
        "image": None,
        "following": False,
    }

    read = await client.get(f"{ARTICLES}/how-to-train-your-dragon")
    assert read.status_code == 200
    assert read.json() == article


async def test_markup_and_script_links_never_reach_the_html(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    body = (
        "<script>alert('x')</script>\n\n"
        "[click](javascript:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)\n\n"
        '<img src=x onerror="alert(1)"> <a href="javascript:alert(2)">raw</a>\n\n'
        "[fine](https://example.com)"
    )
    article = await publish(client, ada, "Hostile", body=body)
    elements = _elements(article["body_html"])
    assert [tag for tag, _ in elements] == ["p", "p", "p", "p", "a"]
    assert elements[-1] == (
        "a",
        {"href": "https://example.com", "rel": "nofollow noopener noreferrer"},
    )
    assert "&lt;script&gt;" in article["body_html"]  # shown as text, never run
    assert article["body"] == body  # the source is kept as written


async def test_slugs_are_unique_and_stable_on_edit_unless_asked(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    first = await publish(client, ada, "Same title")
    second = await publish(client, ada, "Same title")
    assert first["slug"] == "same-title"
    assert second["slug"].startswith("same-title-")
    assert len(second["slug"]) == len("same-title-") + 6

    renamed = await client.patch(
        f"{ARTICLES}/same-title", json={"title": "Another title"}, headers=ada.headers
    )
    assert renamed.json()["slug"] == "same-title"
    assert renamed.json()["title"] == "Another title"

    refreshed = await client.patch(
        f"{ARTICLES}/same-title",
        json={"title": "Another title", "refresh_slug": True},
        headers=ada.headers,
    )
    assert refreshed.json()["slug"] == "another-title"
    assert (await client.get(f"{ARTICLES}/same-title")).status_code == 404
    assert (await client.get(f"{ARTICLES}/another-title")).status_code == 200


async def test_reserved_and_unusual_titles_get_usable_slugs(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    feed = await publish(client, ada, "Feed")
    assert feed["slug"].startswith("feed-")  # /articles/feed is the follow feed
    assert (await client.get(f"{ARTICLES}/{feed['slug']}")).status_code == 200
    accented = await publish(client, ada, "Ça marche, naïve café")
    assert accented["slug"] == "ca-marche-naive-cafe"
    japanese = await publish(client, ada, "ドラゴンの育て方")
    assert japanese["slug"] == "ドラゴンの育て方"
    read = await client.get(f"{ARTICLES}/ドラゴンの育て方")
    assert read.status_code == 200
    emoji = await publish(client, ada, "🐉🔥")
    assert emoji["slug"] == "article"


async def test_drafts_are_seen_by_their_author_and_moderators_only(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    mod = await writer("moe", role=Role.MODERATOR)
    created = await client.post(
        ARTICLES, json={"title": "Secret", "body": "Not yet."}, headers=ada.headers
    )
    assert created.json()["status"] == "draft"
    assert created.json()["published_at"] is None
    path = f"{ARTICLES}/secret"
    assert (await client.get(path, headers=ada.headers)).status_code == 200
    assert (await client.get(path, headers=mod.headers)).status_code == 200
    for headers in (bob.headers, {}):
        response = await client.get(path, headers=headers)
        assert response.status_code == 404
        assert response.json()["code"] == "article-not-found"
    assert (
        await client.patch(path, json={"title": "Mine"}, headers=bob.headers)
    ).status_code == 404


async def test_only_the_author_or_a_moderator_changes_or_deletes(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    mod = await writer("moe", role=Role.MODERATOR)
    await publish(client, ada, "Mine")
    path = f"{ARTICLES}/mine"

    refused = await client.patch(path, json={"body": "Defaced"}, headers=bob.headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["code"] == "not-the-author"
    assert (await client.delete(path, headers=bob.headers)).status_code == 403
    assert (await client.patch(path, json={"body": "x"})).status_code == 401

    edited = await client.patch(path, json={"body": "Moderated *text*"}, headers=mod.headers)
    assert edited.status_code == 200
    assert edited.json()["body_html"] == "<p>Moderated <em>text</em></p>\n"
    assert (await client.get(path)).json()["body"] == "Moderated *text*"

    assert (await client.delete(path, headers=mod.headers)).status_code == 204
    assert (await client.get(path)).status_code == 404
    await publish(client, ada, "Mine again")
    assert (await client.delete(f"{ARTICLES}/mine-again", headers=ada.headers)).status_code == 204


async def test_update_has_merge_semantics_and_moves_the_version(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    created = await publish(client, ada, "Merge", description="Before", tags=["a", "b"])
    response = await client.patch(
        f"{ARTICLES}/merge", json={"tags": ["c", "a"]}, headers=ada.headers
    )
    updated = response.json()
    assert updated["tags"] == ["c", "a"]
    assert updated["description"] == "Before"
    assert updated["body"] == created["body"]
    assert updated["updated_at"] > created["updated_at"]
    assert response.headers["etag"] == (await client.get(f"{ARTICLES}/merge")).headers["etag"]


async def test_etags_answer_304_and_guard_updates_with_412(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    await publish(client, ada, "Cached")
    path = f"{ARTICLES}/cached"
    first = await client.get(path)
    etag = first.headers["etag"]
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag
    assert again.content == b""

    edited = await client.patch(
        path, json={"body": "v2"}, headers={**ada.headers, "If-Match": etag}
    )
    assert edited.status_code == 200
    assert edited.headers["etag"] != etag
    stale = await client.patch(path, json={"body": "v3"}, headers={**ada.headers, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.json()["code"] == "precondition-failed"
    assert (await client.get(path)).json()["body"] == "v2"
    assert (await client.get(path, headers={"If-None-Match": etag})).status_code == 200
    refused = await client.delete(path, headers={**ada.headers, "If-Match": etag})
    assert refused.status_code == 412
    current = edited.headers["etag"]
    deleted = await client.delete(path, headers={**ada.headers, "If-Match": current})
    assert deleted.status_code == 204


async def test_status_changes_set_the_publication_time(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    await client.post(ARTICLES, json={"title": "Cycle", "body": "b"}, headers=ada.headers)
    path = f"{ARTICLES}/cycle"
    published = (await client.patch(path, json={"status": "published"}, headers=ada.headers)).json()
    assert published["published_at"] is not None
    again = (await client.patch(path, json={"title": "Cycle 2"}, headers=ada.headers)).json()
    assert again["published_at"] == published["published_at"]
    back = (await client.patch(path, json={"status": "draft"}, headers=ada.headers)).json()
    assert back["published_at"] is None
    assert (await client.get(path)).status_code == 404


async def test_invalid_articles_are_refused(client: httpx.AsyncClient, writer: Writers) -> None:
    ada = await writer("ada")
    cases = [
        {"title": "", "body": "b"},
        {"title": "t", "body": ""},
        {"title": "x" * 201, "body": "b"},
        {"title": "t", "body": "b", "tags": ["a/b"]},
        {"title": "t", "body": "b", "tags": [f"t{i}" for i in range(11)]},
        {"title": "t", "body": "b", "author_id": str(ada.id)},
        {"title": "t", "body": "b", "status": "scheduled"},
        {"title": "t", "body": "b", "publish_at": "2999-01-01T00:00:00Z"},
        {"title": "t", "body": "b", "status": "published", "publish_at": "2999-01-01T00:00:00Z"},
        {"title": "t", "body": "b", "status": "scheduled", "publish_at": 1700000000},
        {"title": "t", "body": "b", "status": "scheduled", "publish_at": "2999-01-01T00:00:00"},
        {"title": "t", "body": "b", "status": "scheduled", "publish_at": "2999-01-01"},
    ]
    for payload in cases:
        response = await client.post(ARTICLES, json=payload, headers=ada.headers)
        assert response.status_code == 422, (payload, response.text)
        assert response.headers["content-type"] == PROBLEM
    assert (await client.post(ARTICLES, json={"title": "t", "body": "b"})).status_code == 401


async def test_a_retried_creation_with_its_idempotency_key_creates_once(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    headers = {**ada.headers, "Idempotency-Key": "5e0f5a9c-article-1"}
    payload = {"title": "Once", "body": "b", "status": "published"}
    first = await client.post(ARTICLES, json=payload, headers=headers)
    again = await client.post(ARTICLES, json=payload, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert [item["slug"] for item in (await client.get(ARTICLES)).json()["items"]] == ["once"]
    other = await client.post(ARTICLES, json={**payload, "title": "Twice"}, headers=headers)
    assert other.status_code == 422


async def test_writers_are_rate_limited(client: httpx.AsyncClient, writer: Writers) -> None:
    ada = await writer("ada")
    statuses = [
        (
            await client.post(
                ARTICLES, json={"title": f"Draft {n}", "body": "b"}, headers=ada.headers
            )
        ).status_code
        for n in range(31)
    ]
    assert statuses == [201] * 30 + [429]
    bob = await writer("bob")  # a quota per user
    response = await client.post(ARTICLES, json={"title": "t", "body": "b"}, headers=bob.headers)
    assert response.status_code == 201
    assert response.headers["ratelimit-remaining"] == "29"


async def test_publishing_can_require_a_verified_email(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"verified_email_required_for": ["publish"]}
    )
    ada = await writer("ada")
    refused = await client.post(ARTICLES, json={"title": "t", "body": "b"}, headers=ada.headers)
    assert refused.status_code == 403
    assert refused.json()["code"] == "email-not-verified"
    async with app.state.db.session() as session:
        user = await session.get(User, ada.id)
        assert user is not None
        user.email_verified_at = utcnow()
    accepted = await client.post(ARTICLES, json={"title": "t", "body": "b"}, headers=ada.headers)
    assert accepted.status_code == 201


async def test_a_schedule_already_past_is_kept_for_the_next_run(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    """A ``publish_at`` that has passed (the request travelled past it) is no error: the
    article waits, scheduled, for the schedule's next run, which publishes it dated then."""
    ada = await writer("ada")
    past = {"status": "scheduled", "publish_at": "2001-01-01T00:00:00Z"}
    created = await client.post(
        ARTICLES, json={"title": "t", "body": "b", **past}, headers=ada.headers
    )
    assert created.status_code == 201, created.text
    assert (created.json()["status"], created.json()["publish_at"]) == (
        "scheduled",
        "2001-01-01T00:00:00Z",
    )


async def test_a_schedule_the_article_does_not_have_is_a_conflict(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    """``publish_at`` alone moves a schedule and ``status: scheduled`` alone keeps one: on a
    draft, which has none, the request is well-formed but the article refuses it (409)."""
    ada = await writer("ada")
    await client.post(ARTICLES, json={"title": "D", "body": "b"}, headers=ada.headers)
    for change in ({"publish_at": "2999-01-01T00:00:00Z"}, {"status": "scheduled"}):
        response = await client.patch(f"{ARTICLES}/d", json=change, headers=ada.headers)
        assert response.status_code == 409, (change, response.text)
        assert response.json()["code"] == "no-schedule"
    both = {"status": "draft", "publish_at": "2999-01-01T00:00:00Z"}
    response = await client.patch(f"{ARTICLES}/d", json=both, headers=ada.headers)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid-schedule"


async def test_a_scheduled_article_can_be_published_now_or_unscheduled(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    later = {"status": "scheduled", "publish_at": "2999-01-01T00:00:00Z"}
    await client.post(ARTICLES, json={"title": "A", "body": "b", **later}, headers=ada.headers)
    await client.post(ARTICLES, json={"title": "B", "body": "b", **later}, headers=ada.headers)
    now = await client.patch(f"{ARTICLES}/a", json={"status": "published"}, headers=ada.headers)
    assert now.status_code == 200, now.text
    assert (now.json()["publish_at"], now.json()["status"]) == (None, "published")
    moved = await client.patch(
        f"{ARTICLES}/b", json={"publish_at": "2998-01-01T00:00:00Z"}, headers=ada.headers
    )
    assert moved.json()["publish_at"] == "2998-01-01T00:00:00Z"
    draft = await client.patch(f"{ARTICLES}/b", json={"status": "draft"}, headers=ada.headers)
    assert (draft.json()["publish_at"], draft.json()["status"]) == (None, "draft")


async def test_a_refreshed_slug_comes_from_the_new_title_only(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    await publish(client, ada, "Hello world")
    renamed = await client.patch(
        f"{ARTICLES}/hello-world",
        json={"title": "Hello", "refresh_slug": True},
        headers=ada.headers,
    )
    assert renamed.json()["slug"] == "hello"
