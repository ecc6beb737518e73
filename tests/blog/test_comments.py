"""Comments: one level of replies, thread order, who may edit or delete, the author's notice."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from mainspring.core.auth import Role
from mainspring.social.models import Notification
from tests.blog.writers import ARTICLES, Writer, Writers, publish

COMMENTS = f"{ARTICLES}/dragons/comments"


async def _comment(
    client: httpx.AsyncClient, writer: Writer, body: str, parent: str | None = None
) -> dict[str, Any]:
    payload = {"body": body, **({"parent_id": parent} if parent else {})}
    response = await client.post(COMMENTS, json=payload, headers=writer.headers)
    assert response.status_code == 201, response.text
    comment: dict[str, Any] = response.json()
    return comment


async def test_comments_and_replies_are_listed_thread_by_thread(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await publish(client, ada, "Dragons")
    first = await _comment(client, bob, "First *comment*")
    second = await _comment(client, ada, "Second")
    reply = await _comment(client, ada, "Reply to first", parent=first["id"])
    late_reply = await _comment(client, bob, "Another reply to first", parent=first["id"])

    assert first["body_html"] == "<p>First <em>comment</em></p>\n"
    assert first["parent_id"] is None
    assert reply["parent_id"] == first["id"]
    assert first["author"]["username"] == "bob"

    response = await client.get(COMMENTS)
    assert response.status_code == 200
    order = [item["id"] for item in response.json()["items"]]
    assert order == [first["id"], reply["id"], late_reply["id"], second["id"]]

    walked: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(COMMENTS, params=params)).json()
        walked += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert walked == order


async def test_replies_go_one_level_deep_within_the_article(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    await publish(client, ada, "Dragons")
    await publish(client, ada, "Other")
    top = await _comment(client, ada, "Top")
    reply = await _comment(client, ada, "Reply", parent=top["id"])
    elsewhere = await client.post(
        f"{ARTICLES}/other/comments", json={"body": "Elsewhere"}, headers=ada.headers
    )

    for parent in (reply["id"], elsewhere.json()["id"], "0190b3c6-0000-7000-8000-000000000000"):
        response = await client.post(
            COMMENTS, json={"body": "Nested", "parent_id": parent}, headers=ada.headers
        )
        assert response.status_code == 409, response.text
        assert response.json()["code"] == "invalid-reply"


async def test_comments_go_to_visible_published_articles_only(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    await client.post(ARTICLES, json={"title": "Dragons", "body": "draft"}, headers=ada.headers)
    assert (
        await client.post(COMMENTS, json={"body": "Hi"}, headers=bob.headers)
    ).status_code == 404
    own = await client.post(COMMENTS, json={"body": "Hi"}, headers=ada.headers)
    assert own.status_code == 409
    assert own.json()["code"] == "article-not-published"
    assert (await client.post(COMMENTS, json={"body": "Hi"})).status_code == 401
    assert (await client.get(f"{ARTICLES}/nothing/comments")).status_code == 404
    await client.patch(f"{ARTICLES}/dragons", json={"status": "published"}, headers=ada.headers)
    assert (await client.post(COMMENTS, json={"body": ""}, headers=bob.headers)).status_code == 422


async def test_only_the_author_edits_and_the_author_or_a_moderator_deletes(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    mod = await writer("moe", role=Role.MODERATOR)
    await publish(client, ada, "Dragons")
    comment = await _comment(client, bob, "Original")
    path = f"{COMMENTS}/{comment['id']}"

    for other in (ada, mod):  # not even the article's author or a moderator edits it
        response = await client.patch(path, json={"body": "Changed"}, headers=other.headers)
        assert response.status_code == 403
        assert response.json()["code"] == "not-the-author"
    edited = await client.patch(path, json={"body": "Edited **here**"}, headers=bob.headers)
    assert edited.status_code == 200
    assert edited.json()["body_html"] == "<p>Edited <strong>here</strong></p>\n"

    assert (await client.delete(path, headers=ada.headers)).status_code == 403
    assert (await client.delete(path, headers=mod.headers)).status_code == 204
    assert (await client.delete(path, headers=mod.headers)).status_code == 404

    own = await _comment(client, bob, "Mine")
    reply = await _comment(client, ada, "Reply", parent=own["id"])
    assert (await client.delete(f"{COMMENTS}/{own['id']}", headers=bob.headers)).status_code == 204
    assert (await client.get(COMMENTS)).json()["items"] == []  # its replies went with it
    missing = await client.patch(
        f"{COMMENTS}/{reply['id']}", json={"body": "x"}, headers=ada.headers
    )
    assert missing.status_code == 404
    assert missing.json()["code"] == "comment-not-found"


async def test_the_article_author_is_notified_of_comments_by_others(
    app: FastAPI, client: httpx.AsyncClient, writer: Writers
) -> None:
    ada, bob = await writer("ada"), await writer("bob")
    article = await publish(client, ada, "Dragons")
    comment = await _comment(client, bob, "Nice")
    await _comment(client, ada, "Thanks")  # one's own comment notifies nobody
    async with app.state.db.session() as session:
        notices = list((await session.scalars(select(Notification))).all())
    assert len(notices) == 1
    notice = notices[0]
    assert (notice.recipient_id, notice.actor_id) == (ada.id, bob.id)
    assert notice.kind == "article_comment"
    assert notice.subject_type == "article"
    assert str(notice.subject_id) == article["id"]
    assert notice.data["slug"] == "dragons"
    assert notice.data["comment_id"] == comment["id"]


async def test_deleting_an_article_deletes_its_comments(
    client: httpx.AsyncClient, writer: Writers
) -> None:
    ada = await writer("ada")
    await publish(client, ada, "Dragons")
    await _comment(client, ada, "Soon gone")
    assert (await client.delete(f"{ARTICLES}/dragons", headers=ada.headers)).status_code == 204
    await publish(client, ada, "Dragons")
    assert (await client.get(COMMENTS)).json()["items"] == []
