"""The parts of the benchmark harness: scenarios, the wrk script, server processes, the report."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from bench.errors import BenchError
from bench.machine import Machine
from bench.processes import CpuPlan, free_port, group_members, serve
from bench.report import RESULTS_END, markdown, update_docs, write
from bench.runner import Options, RunResult, ScenarioResult, StormResult, probe, server_command
from bench.scenarios import SCENARIOS, UNIQUE, Scenario, select
from bench.seeds.social import posters_needed
from bench.settings import seed_settings
from bench.wrk import Latency
from bench.wrk import run as run_wrk

from tests.conftest import unavailable

# --- scenarios ----------------------------------------------------------------------------------


def test_select_adds_the_baselines_and_runs_them_first() -> None:
    assert [s.name for s in select(["readyz"])] == ["baseline-json", "readyz"]
    everything = [s.name for s in select([])]
    assert everything[:2] == ["baseline-json", "baseline-redirect"]
    assert set(everything) == {s.name for s in SCENARIOS}
    with pytest.raises(BenchError, match="unknown scenario"):
        select(["no-such-scenario"])


def test_select_refuses_a_baseline_that_is_not_one() -> None:
    broken = Scenario(name="broken", path="/", baseline="health", bound_by="test")
    with pytest.raises(BenchError, match="not a baseline scenario"):
        select(["broken"], [*SCENARIOS, broken])


def test_a_request_takes_the_seed_values_and_keeps_unique_for_wrk() -> None:
    scenario = Scenario(
        name="create",
        method="POST",
        path="/articles/$slug/comments",
        headers={"Authorization": "Bearer $token"},
        body='{"body": "comment ${unique}", "price": "$$5"}',
        bound_by="test",
    )

    request = scenario.request({"slug": "hello", "token": "t0k"})

    assert request.path == "/articles/hello/comments"
    assert request.headers == {"Authorization": "Bearer t0k"}
    assert request.body == '{"body": "comment ' + UNIQUE + '", "price": "$5"}'
    assert request.concrete("u-1").body == '{"body": "comment u-1", "price": "$5"}'
    with pytest.raises(BenchError, match=r"no value for \$token"):
        scenario.request({"slug": "hello"})


def test_a_pool_stays_a_placeholder_that_each_turn_fills_with_its_next_value() -> None:
    scenario = Scenario(
        name="create",
        method="POST",
        path="/$kind",
        headers={"Authorization": "Bearer $token"},
        body='{"title": "${unique} by ${token}"}',
        bound_by="test",
    )

    request = scenario.request({"kind": "posts", "token": ("a", "b", "c")})

    assert request.path == "/posts"
    assert request.headers == {"Authorization": "Bearer ${token}"}
    assert request.pools == {"token": ("a", "b", "c")}
    turns = [request.concrete("u", turn) for turn in range(5)]
    assert [sent.headers["Authorization"] for sent in turns] == [
        "Bearer a",
        "Bearer b",
        "Bearer c",
        "Bearer a",
        "Bearer b",
    ]
    assert turns[4].body == '{"title": "u by b"}'


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"token": ()}, "empty pool"),
        ({"token": ("a", "b\nc")}, "spans lines"),
        ({"token": "a", "unique": "u"}, "is wrk's"),
    ],
)
def test_a_seed_cannot_give_an_unusable_pool_or_wrks_unique(
    values: dict[str, str | tuple[str, ...]], error: str
) -> None:
    scenario = Scenario(name="s", path="/", headers={"X": "$token"}, bound_by="test")
    with pytest.raises(BenchError, match=error):
        scenario.request(values)


def test_the_posters_pool_covers_the_run_within_each_users_quota() -> None:
    # 30 a minute, 4 kept aside: 26 posts per user and window.
    assert posters_needed(600, 12, quota=30, window=60) == 277  # 7 200 posts
    assert posters_needed(600, 600, quota=30, window=60) == 1385  # a window holds 60 s
    assert posters_needed(0.5, 1, quota=30, window=60) == 1
    with pytest.raises(ValueError, match="nothing to measure"):
        posters_needed(10, 10, quota=4, window=60)


def test_seed_settings_ignore_the_shell_and_the_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("MAINSPRING_DATABASE_ECHO=true\nMAINSPRING_ENV=production\n")
    monkeypatch.setenv("MAINSPRING_DATABASE_URL", "postgresql+asyncpg://dev@db/development")
    monkeypatch.setenv("MAINSPRING_PASSWORD_HASH_MEMORY_KIB", "64")

    settings = seed_settings("sqlite+aiosqlite:///run.db")

    assert settings.database_url == "sqlite+aiosqlite:///run.db"
    assert settings.env == "development"
    assert settings.database_echo is False
    assert settings.password_hash_memory_kib == 19_456  # the server's default


# --- the wrk script -----------------------------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    """Records every POST; answers 409 to a path ending in an even digit, 201 to the others."""

    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    seen: list[tuple[str, str, str]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.seen.append((self.path, self.headers["X-Token"], body))
        status = 409 if self.path[-1] in "02468" else 201
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads ``seen``."""


class _QuietServer(ThreadingHTTPServer):
    """wrk drops its connections when its time is up: not an error worth a traceback."""

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    seen: list[tuple[str, str, str]] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_wrk_sends_unique_requests_and_counts_every_status(
    recorder: tuple[str, list[tuple[str, str, str]]],
) -> None:
    if shutil.which("wrk") is None:
        unavailable("wrk is not installed (apt-get install wrk)")
    base_url, seen = recorder
    scenario = Scenario(
        name="create",
        method="POST",
        path="/items/${unique}",
        headers={"X-Token": "$token ${unique}"},
        body='{"name": "${unique}"}',
        expect=201,
        bound_by="test",
    )

    load = run_wrk(
        base_url,
        scenario.request({"token": "secret"}),
        duration=1,
        connections=2,
        cpus=CpuPlan(),
    )

    assert load.requests > 0
    assert sum(load.statuses.values()) == load.requests
    assert set(load.statuses) == {201, 409}
    assert load.errors(expect=201) == load.statuses[409]
    paths = [path for path, _, _ in seen]
    assert len(set(paths)) == len(paths) >= load.requests  # every request its own value
    for path, token, body in seen:
        unique = path.removeprefix("/items/")
        assert re.fullmatch(r"[0-9a-f]{8}-[12]-\d+", unique)  # <run prefix>-<thread>-<n>
        assert token == f"secret {unique}"
        assert json.loads(body) == {"name": unique}


def test_wrk_takes_a_pools_values_in_turn(
    recorder: tuple[str, list[tuple[str, str, str]]],
) -> None:
    if shutil.which("wrk") is None:
        unavailable("wrk is not installed (apt-get install wrk)")
    base_url, seen = recorder
    pool = ("alpha", "beta", "gamma%1")  # a "%" is no pattern to Lua here
    scenario = Scenario(
        name="create",
        method="POST",
        path="/items/${unique}",
        headers={"X-Token": "Bearer $token"},
        body='{"by": "$token"}',
        expect=201,
        bound_by="test",
    )

    load = run_wrk(
        base_url, scenario.request({"token": pool}), duration=1, connections=2, cpus=CpuPlan()
    )

    assert load.requests > 0
    assert {token for _, token, _ in seen} == {f"Bearer {value}" for value in pool}
    for path, token, body in seen:
        # One wrk thread here: its n-th request is the run's turn n - 1.
        sequence = int(path.rsplit("-", 1)[1])
        assert token == f"Bearer {pool[(sequence - 1) % len(pool)]}"
        assert json.loads(body) == {"by": pool[(sequence - 1) % len(pool)]}


def test_the_probe_checks_the_status_before_any_load(
    recorder: tuple[str, list[tuple[str, str, str]]],
) -> None:
    base_url, seen = recorder
    scenario = Scenario(
        name="create",
        method="POST",
        path="/items/$number",
        headers={"X-Token": "probe"},
        body="{}",
        expect=201,
        bound_by="test",
    )

    statements = probe(base_url, scenario.request({"number": "7"}), scenario)
    with pytest.raises(BenchError, match="answered 409, expected 201"):
        probe(base_url, scenario.request({"number": "8"}), scenario)

    assert statements is None  # this server does not count SQL statements
    assert [path for path, _, _ in seen] == ["/items/7", "/items/7", "/items/8"]


# --- server processes ---------------------------------------------------------------------------


def test_serve_stops_the_servers_whole_process_group(tmp_path: Path) -> None:
    """The uvicorn supervisor and its workers: all measured, all gone after the block."""
    baseline = next(s for s in SCENARIOS if s.name == "baseline-json")
    port = free_port()
    argv = server_command(baseline, port, workers=2)

    with serve(argv, env=dict(os.environ), cwd=tmp_path, port=port, ready_path="/json") as server:
        assert len(server.members()) >= 3  # the supervisor and two workers
        assert server.peak_memory_bytes() > 0

    assert server.process.returncode is not None
    assert group_members(server.pgid) == []


def test_a_server_that_exits_is_reported_with_its_output(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "print('cannot start: no database'); raise SystemExit(3)"]

    with (
        pytest.raises(BenchError, match=r"exited with status 3(.|\n)*cannot start: no database"),
        serve(argv, env=dict(os.environ), cwd=tmp_path, port=free_port(), ready_path="/"),
    ):
        pass


# --- the report ---------------------------------------------------------------------------------


def _run(requests_per_second: float, **options: object) -> RunResult:
    machine = Machine(
        cpu_model="Test CPU",
        cpus=2,
        memory_gib=1.0,
        kernel="6.0",
        python="3.11",
        uvicorn="0.0",
        wrk="wrk 4.1.0",
        commit="abc1234",
    )
    health = ScenarioResult(
        name="health",
        request="GET /healthz",
        expect=200,
        bound_by="CPU in Python",
        baseline="baseline-json",
        requests=int(requests_per_second),
        requests_per_second=requests_per_second,
        ratio=0.1,
        latency_ms=Latency(p50=1.0, p90=2.0, p99=3.0, max=4.0, mean=1.5),
        statuses={200: int(requests_per_second)},
        socket_errors={"connect": 0, "read": 0, "write": 0, "timeout": 0},
        errors=0,
        statements=0,
        peak_memory_mib=100.0,
    )
    return RunResult(
        started_at="2026-01-02T03:04:05+00:00",
        load_average=0.05,
        options=replace(Options(), **options),  # type: ignore[arg-type]
        database="sqlite",
        database_url="sqlite+aiosqlite:///bench.db",
        cpus=CpuPlan(server=(0,), load=(1,)),
        machine=machine,
        scenarios=[health],
    )


def test_update_docs_replaces_the_section_of_the_same_key(tmp_path: Path) -> None:
    docs = tmp_path / "performance.md"
    docs.write_text(f"# Performance\n\n{RESULTS_END}\n\n## Reading the figures\n")

    update_docs(_run(1234.0), docs)
    update_docs(_run(5678.0), docs)
    update_docs(_run(999.0, workers=2), docs)

    text = docs.read_text()
    assert text.count("<!-- bench:sqlite-1-worker -->") == 1
    assert "| 5,678 |" in text
    assert "| 1,234 |" not in text
    assert "### SQLite, 2 workers" in text
    assert text.index("sqlite-1-worker") < text.index("sqlite-2-workers")
    assert text.index("sqlite-2-workers") < text.index(RESULTS_END)
    assert text.endswith("## Reading the figures\n")


def test_update_docs_needs_the_results_marker(tmp_path: Path) -> None:
    docs = tmp_path / "performance.md"
    docs.write_text("# Performance\n")
    with pytest.raises(BenchError, match="marker"):
        update_docs(_run(1.0), docs)


def test_a_failed_scenario_shows_its_errors() -> None:
    run = _run(100.0)
    failed = replace(
        run.scenarios[0],
        statuses={200: 96, 503: 4},
        socket_errors={"connect": 0, "read": 1, "write": 0, "timeout": 0},
        errors=5,
    )
    run = replace(run, scenarios=[failed])

    assert "| **5** (503: 4, read: 1) |" in markdown(run)
    assert run.failures == [
        "health: 5 errors in 100 requests (statuses {200: 96, 503: 4}, socket errors "
        "{'connect': 0, 'read': 1, 'write': 0, 'timeout': 0})"
    ]


def test_a_mixed_scenario_reports_its_storm_and_fails_on_its_errors() -> None:
    run = _run(100.0)
    calm = replace(
        run.scenarios[0],
        storm=StormResult(
            name="login", connections=16, requests_per_second=41.5, errors=0, statuses={200: 500}
        ),
    )
    assert "meanwhile `login` on 16 connections: 42 req/s" in markdown(
        replace(run, scenarios=[calm])
    )
    assert replace(run, scenarios=[calm]).failures == []

    stormy = replace(
        calm,
        storm=replace(calm.storm, errors=3, statuses={200: 497, 503: 3}),  # type: ignore[type-var]
    )
    failed = replace(run, scenarios=[stormy])
    assert "**3 errors**" in markdown(failed)
    assert "its storm `login`: 3 errors" in failed.failures[0]


def test_the_login_storm_scenarios_storm_with_logins() -> None:
    storms = [s for s in SCENARIOS if s.storm is not None]
    assert {s.name for s in storms} == {"login-storm-health", "login-storm-article"}
    for scenario in storms:
        assert scenario.storm is not None
        assert scenario.storm.method == "POST"
        assert scenario.storm.path == "/api/v1/auth/login"
        assert json.loads(scenario.storm.body or "")["identifier"]


def test_results_never_show_a_password(tmp_path: Path) -> None:
    run = replace(
        _run(1.0, database="postgresql+asyncpg://bench:hunter2@db:5432/bench"),
        database="postgresql",
        database_url="postgresql+asyncpg://bench:***@db:5432/bench",
    )
    run = replace(run, options=replace(run.options, redis="redis://:hunter2@cache:6379/4"))

    json_path, markdown_path = write(run, tmp_path)

    for path in (json_path, markdown_path):
        text = path.read_text()
        assert "hunter2" not in text
        assert "bench:***@db:5432" in text
