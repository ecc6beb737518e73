"""What a worker loads at start: the libraries of rare requests are not among them.

An idle worker's memory is mostly the code it imported (docs/performance.md, "Start-up and
memory"). The libraries below serve one kind of request, or one deployment, each: importing
them at start would cost every worker their memory (XlsxWriter alone about 10 MiB, Stripe's
SDK with requests about 8) for requests most workers never serve. Each is imported by the
first request (or the first Redis connection) that needs it. A plain ``import`` at the top of
a module would bring one back silently: this test fails instead.

A started app also sets the garbage collector for serving (``app.collector_tuned_for_serving``),
and undoes it when it stops.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mainspring.app import YOUNG_COLLECTION_THRESHOLD

LOADED_ON_DEMAND = (
    "xlsxwriter",  # todo: the XLSX export
    "stripe",  # shop: a Stripe payment or webhook
    "requests",  # (imported by stripe)
    "segno",  # shortener and accounts: a QR code
    "markdown_it",  # blog: the first Markdown render
    "nh3",  # ...and its sanitiser
    "aiosmtplib",  # mail: the first SMTP send (in the background worker)
    "redis",  # only a deployment with MAINSPRING_REDIS_URL
    "taskiq",  # the Redis job broker
    "jinja2",  # mail: the first mail rendered
    "authlib",  # accounts: the first sign-in through an identity provider (OIDC)
    "joserfc",  # ...and its ID token check
    "sqlalchemy.dialects.postgresql",  # only a PostgreSQL deployment (core/db.py, JSONDocument)
    "asyncpg",  # ...and its driver
)

BUILD_APP = """
import json, sys
from mainspring.app import create_app
create_app()
print(json.dumps(sorted(name for name in sys.argv[1:] if name in sys.modules)))
"""


def run_python(tmp_path: Path, code: str, *args: str) -> str:
    """The last line ``code`` prints, run by a fresh interpreter on a SQLite database in
    ``tmp_path``, with no ``MAINSPRING_*`` setting of the test run's."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("MAINSPRING_")}
    env.update(
        MAINSPRING_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'startup.db'}",
        MAINSPRING_SECRET_KEY="startup-test-" + "k" * 40,
        MAINSPRING_WORKER_IN_PROCESS="false",
    )
    result = subprocess.run(  # noqa: S603 (our interpreter, our code, fixed arguments)
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.splitlines()[-1]


def test_a_built_app_has_not_imported_the_libraries_of_rare_requests(tmp_path: Path) -> None:
    assert json.loads(run_python(tmp_path, BUILD_APP, *LOADED_ON_DEMAND)) == []


RUN_APP = """
import asyncio, gc, json
from mainspring.app import create_app

async def main():
    app = create_app()
    before = gc.get_threshold()
    async with app.router.lifespan_context(app):
        frozen, walked, threshold = gc.get_freeze_count(), len(gc.get_objects()), gc.get_threshold()
    print(json.dumps({
        "frozen": frozen, "walked": walked, "threshold": threshold, "before": before,
        "frozen_after": gc.get_freeze_count(), "threshold_after": gc.get_threshold(),
    }))

asyncio.run(main())
"""


def test_a_serving_app_tunes_the_garbage_collector_and_restores_it(tmp_path: Path) -> None:
    # Without the freeze, each full collection walked the ~300,000 objects of the code and the
    # app: 150-190 ms of a worker's CPU, about every 0.7 s under load; with Python's young
    # threshold of 700, the young collections took 5-6 % of it (app.collector_tuned_for_serving).
    counts = json.loads(run_python(tmp_path, RUN_APP))
    assert counts["frozen"] > 10 * counts["walked"]  # the app and its code: out of the walks
    assert counts["threshold"][0] == YOUNG_COLLECTION_THRESHOLD
    assert counts["threshold"][0] > counts["before"][0]
    # A stopped app's objects are collectable again, as often as before.
    assert counts["frozen_after"] == 0
    assert counts["threshold_after"] == counts["before"]


COUNT_ANALYSES = """
import gc, json
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from mainspring.app import create_app
create_app()
gc.collect()
objects = gc.get_objects()
print(json.dumps({
    "adapters": sum(type(o) is TypeAdapter for o in objects),
    "routes": sum(isinstance(o, APIRoute) for o in objects),
}))
"""


def test_building_the_app_analyses_each_route_once(tmp_path: Path) -> None:
    # FastAPI analyses a route again (its parameters', body's and response's validators), and
    # keeps the copy, when a router that includes routers is itself included without a
    # prefix: with the modules' aggregator routers, a built app kept 1,786 TypeAdapters for
    # 226 routes (about 8 MiB of an idle worker), against 671 with the routes included one by
    # one (api.py).
    counts = json.loads(run_python(tmp_path, COUNT_ANALYSES))
    assert counts["routes"] > 200
    assert counts["adapters"] < 4 * counts["routes"]
