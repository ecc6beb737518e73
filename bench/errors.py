"""The harness's one error."""

from __future__ import annotations


class BenchError(Exception):
    """The harness cannot measure: a missing tool, a server that does not start, a scenario
    whose request does not answer its expected status before any load is sent."""
