"""The shop scenarios' seeds and requests, in-process (no wrk, no server): each request the
harness would send answers the status its scenario expects, on the seeded data."""

from __future__ import annotations

import httpx
from bench.scenarios import SCENARIOS
from bench.seeds.context import SeedContext
from fastapi import FastAPI

from mainspring.core.config import Settings

NAMES = {"shop-catalog", "shop-add-to-cart", "shop-checkout"}


async def test_each_shop_scenario_answers_its_status(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    scenarios = [scenario for scenario in SCENARIOS if scenario.name in NAMES]
    assert {scenario.name for scenario in scenarios} == NAMES
    context = SeedContext(client=client, size=10, database_url=settings.database_url, seconds=0)
    for scenario in scenarios:
        assert scenario.seed is not None
        values = await scenario.seed(context)
        request = scenario.request(values)
        for turn in range(2):  # a pool's next value, a new unique
            concrete = request.concrete(f"u{turn}", turn)
            response = await client.request(
                concrete.method,
                concrete.path,
                headers=dict(concrete.headers),
                content=concrete.body,
            )
            assert response.status_code == scenario.expect, (scenario.name, response.text)
