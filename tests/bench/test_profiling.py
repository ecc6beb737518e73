"""``python -m bench.profiling``: one scenario's request profiled in-process, on SQLite."""

from __future__ import annotations

import re

import pytest
from bench.profiling import main


def test_a_profile_times_the_request_alone_through_httpx_and_under_load(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["health", "--requests", "40", "--limit", "5", "--concurrency", "8"]

    assert main(argv) == 0

    out = capsys.readouterr().out
    for line in (
        r"the app alone \(direct ASGI call\): [\d,]+ us a request \([\d,]+ us of CPU\)",
        r"through httpx's ASGI transport: +[\d,]+ us a request",
        r"the app under load, 8 in flight: [\d,]+ us a request \([\d,]+ us of CPU\)",
    ):
        assert re.search(line, out), line
    assert "function calls" in out  # the profile itself, of the direct calls
