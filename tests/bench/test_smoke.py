"""The benchmark harness for real: ``python -m bench`` against live servers, about a second each.

These tests assert what a run produced (results, no errors), never how fast it was. They always
run on SQLite, whatever database the rest of the suite uses, and need wrk: without it they are
skipped on a laptop and fail in CI.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from bench.__main__ import main
from bench.runner import PROBES, Options, prepare, run_scenario
from bench.scenarios import SCENARIOS, Scenario
from bench.seeds.context import SeedContext

from tests.conftest import unavailable


@pytest.fixture(autouse=True)
def _wrk() -> None:
    if shutil.which("wrk") is None:
        unavailable("wrk is not installed (apt-get install wrk)")


def test_health_and_baseline_produce_results(tmp_path: Path) -> None:
    """The command line end to end: a run, its JSON and Markdown files, no errors."""
    argv = ["health", "baseline-json", "--duration", "1", "--warmup", "0"]
    argv += ["--connections", "8", "--database", "sqlite", "--output", str(tmp_path)]

    assert main(argv) == 0

    [json_file] = tmp_path.glob("*-sqlite-1-worker.json")
    run = json.loads(json_file.read_text())
    results = {result["name"]: result for result in run["scenarios"]}
    assert list(results) == ["baseline-json", "health"]  # the baseline first
    for result in results.values():
        assert result["requests"] > 0
        assert result["errors"] == 0
        assert result["statuses"] == {"200": result["requests"]}
        assert result["peak_memory_mib"] > 0
        assert result["latency_ms"]["p50"] <= result["latency_ms"]["max"]
    assert results["health"]["statements"] == 0  # the app tells; /healthz runs no SQL
    assert results["baseline-json"]["statements"] is None  # the raw app does not
    assert results["health"]["ratio"] > 0
    assert run["failures"] == []
    table = json_file.with_suffix(".md").read_text()
    assert "| `health` | `GET /healthz` → 200 |" in table


async def _seed_word(ctx: SeedContext) -> dict[str, str]:
    response = await ctx.client.get("/healthz")
    return {"word": response.json()["status"]}


def test_a_seeded_scenario_expecting_404(tmp_path: Path) -> None:
    """A seed step's values fill the request; an expected 404 is a success, not an error."""
    scenario = Scenario(
        name="seeded-miss",
        path="/nothing/$word/${unique}",
        expect=404,
        seed=_seed_word,
        bound_by="test",
    )
    bench = prepare(Options(duration=1, warmup=0, connections=4), tmp_path)

    result = run_scenario(scenario, bench)

    assert result.requests > 0
    assert result.statuses == {404: result.requests}
    assert result.errors == 0
    assert result.statements == 0
    assert result.ratio is None  # no baseline measured in this run


def test_create_post_spreads_its_posts_over_a_pool_of_signed_in_users(tmp_path: Path) -> None:
    """Every request answered 201: one token would have met the limit of 30 posts a minute.
    Each request took the pool's next user, so each user posted about as often as the next."""
    create_post = next(scenario for scenario in SCENARIOS if scenario.name == "create-post")
    bench = prepare(Options(duration=1, warmup=0, connections=8), tmp_path)

    result = run_scenario(create_post, bench)

    assert result.requests > 0
    assert result.statuses == {201: result.requests}
    with sqlite3.connect(tmp_path / "bench.db") as db:
        authors = db.execute(
            "SELECT users.username FROM posts JOIN users ON users.id = posts.author_id"
        ).fetchall()
    posts = Counter(username for (username,) in authors)
    # wrk's count leaves out the requests in flight when it stopped; the server wrote them.
    assert sum(posts.values()) >= result.requests + PROBES
    assert all(username.startswith("bench_poster_") for username in posts)
    # Round-robin: counts differ by one at most, but for the probe's requests by the first.
    assert max(posts.values()) - min(posts.values()) <= PROBES + 1
