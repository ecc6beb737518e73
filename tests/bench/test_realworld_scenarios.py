"""The RealWorld scenarios' seed and requests, in-process (no wrk, no server): each request the
harness would send answers the status its scenario expects, on the seeded data."""

from __future__ import annotations

import httpx
from bench.scenarios import SCENARIOS
from bench.seeds.context import SeedContext
from bench.seeds.realworld import REALWORLD_ARTICLES, seed_realworld
from fastapi import FastAPI

from mainspring.core.config import Settings

NAMES = {"realworld-list", "realworld-list-auth", "realworld-article", "realworld-404"}
NAMES |= {"realworld-login"}


async def test_each_realworld_scenario_answers_its_status(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    scenarios = [scenario for scenario in SCENARIOS if scenario.name in NAMES]
    assert {scenario.name for scenario in scenarios} == NAMES
    context = SeedContext(client=client, size=1, database_url=settings.database_url)
    values = await seed_realworld(context)
    assert values == await seed_realworld(context) | {"token": values["token"]}  # seeded once

    for scenario in scenarios:
        request = scenario.request(values).concrete("unique", 0)
        response = await client.request(
            request.method, request.path, headers=dict(request.headers), content=request.body
        )
        assert response.status_code == scenario.expect, (scenario.name, response.text)
        if scenario.name.startswith("realworld-list"):
            body = response.json()
            assert body["articlesCount"] == REALWORLD_ARTICLES
            assert len(body["articles"]) == 20
            assert all(len(article["tagList"]) == 2 for article in body["articles"])
            following = [article["author"]["following"] for article in body["articles"]]
            assert following == [False] * 20
