"""The command line, and a real server started the way `make run` starts it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from mainspring import __version__
from mainspring.cli import app

runner = CliRunner()


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("MAINSPRING_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MAINSPRING_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    return tmp_path


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_check_masks_secrets(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINSPRING_SECRET_KEY", "s3cr3t-" * 8)
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "s3cr3t" not in result.output
    assert "MAINSPRING_SECRET_KEY" in result.output
    assert "Configuration is valid" in result.output


def test_check_fails_on_unsafe_production(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAINSPRING_ENV", "production")
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 2
    assert "MAINSPRING_SECRET_KEY" in result.output


def test_migrate_and_openapi(isolated_env: Path) -> None:
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    assert (isolated_env / "cli.db").exists()
    out = isolated_env / "spec" / "openapi.json"
    result = runner.invoke(app, ["openapi", "--output", str(out)])
    assert result.exit_code == 0, result.output
    spec = json.loads(out.read_text())
    assert spec["openapi"].startswith("3.1")
    assert "/healthz" in spec["paths"]
    assert "Problem" in spec["components"]["schemas"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_migrates_and_answers(isolated_env: Path) -> None:
    """`mainspring serve` on the embedded database: migrated, docs, health, metrics, 404."""
    port = _free_port()
    env = {**os.environ, "MAINSPRING_PORT": str(port), "MAINSPRING_WORKER_IN_PROCESS": "false"}
    server = subprocess.Popen(
        [sys.executable, "-m", "mainspring", "serve"],
        cwd=isolated_env,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert httpx.get(f"{base}/docs").status_code == 200
        spec = httpx.get(f"{base}/openapi.json").json()
        assert spec["openapi"].startswith("3.1")
        missing = httpx.get(f"{base}/no/such/path")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        bad_json = httpx.post(
            f"{base}/healthz", content=b"{", headers={"content-type": "application/json"}
        )
        assert bad_json.status_code == 405
        metrics = httpx.get(f"{base}/metrics").text
        assert (
            'mainspring_http_requests_total{method="GET",route="/healthz",status="200"}' in metrics
        )
        assert (isolated_env / "cli.db").exists()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
