"""The tag list: tags of published articles, the most used first, with their counts."""

from __future__ import annotations

import httpx

from tests.blog.writers import ARTICLES, Writers, publish


async def test_tags_are_ranked_by_published_use(client: httpx.AsyncClient, writer: Writers) -> None:
    ada = await writer("ada")
    await publish(client, ada, "One", tags=["python", "web"])
    await publish(client, ada, "Two", tags=["Python", "async"])
    await publish(client, ada, "Three", tags=["python", "web", "zen"])
    await client.post(
        ARTICLES,
        json={"title": "Draft", "body": "b", "tags": ["secret", "zen"]},
        headers=ada.headers,
    )
    response = await client.get("/api/v1/tags")
    assert response.status_code == 200
    body = response.json()
    assert body["items"] == [
        {"name": "python", "articles_count": 3},
        {"name": "web", "articles_count": 2},
        {"name": "async", "articles_count": 1},
        {"name": "zen", "articles_count": 1},
    ]
    assert body["total"] == 4

    second = (await client.get("/api/v1/tags", params={"page": 2, "page_size": 3})).json()
    assert second["items"] == [{"name": "zen", "articles_count": 1}]
    assert second["total"] == 4
    # Past the end: no rows to carry the count (core.pagination.offset_page counts alone).
    past = (await client.get("/api/v1/tags", params={"page": 5, "page_size": 3})).json()
    assert (past["items"], past["total"]) == ([], 4)

    await client.delete(f"{ARTICLES}/three", headers=ada.headers)
    names = [item["name"] for item in (await client.get("/api/v1/tags")).json()["items"]]
    assert names == ["python", "async", "web"]


async def test_no_tags_at_all_is_an_empty_first_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/tags")
    assert response.status_code == 200
    assert (response.json()["items"], response.json()["total"]) == ([], 0)
