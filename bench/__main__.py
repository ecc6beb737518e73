"""``python -m bench [SCENARIO...]``: measure Mainspring under load (``make bench`` runs them all).

Exit status: 0 when every scenario ran without an error, 1 when one had errors under load (its
figures are still written), 2 when the harness could not measure (see ``BenchError``).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from bench import report
from bench.errors import BenchError
from bench.runner import Options, run
from bench.scenarios import SCENARIOS


def parser() -> argparse.ArgumentParser:
    defaults = Options()
    parse = argparse.ArgumentParser(
        prog="python -m bench",
        description="Load-test Mainspring's real server with wrk, next to a raw ASGI baseline.",
    )
    parse.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help="scenarios to run (default: all)"
    )
    parse.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parse.add_argument(
        "--duration", type=int, default=defaults.duration, help="seconds of load per scenario"
    )
    parse.add_argument(
        "--warmup", type=int, default=defaults.warmup, help="seconds of warm-up (0: none)"
    )
    parse.add_argument(
        "--connections", type=int, default=defaults.connections, help="concurrent connections"
    )
    parse.add_argument(
        "--workers", type=int, default=defaults.workers, help="server worker processes"
    )
    parse.add_argument(
        "--database",
        default=defaults.database,
        help="`sqlite` (a new temporary file) or a postgresql+asyncpg:// URL "
        "(its public schema is DROPPED and re-created)",
    )
    parse.add_argument("--redis", help="Redis URL for the kernel services (its db is FLUSHED)")
    parse.add_argument(
        "--size", type=int, default=defaults.size, help="seed size for scenarios that seed"
    )
    parse.add_argument(
        "--output", type=Path, default=report.RESULTS_DIR, help="directory for the results"
    )
    parse.add_argument(
        "--update-docs", action="store_true", help="put the table in docs/performance.md"
    )
    return parse


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.list:
        for scenario in SCENARIOS:
            print(f"{scenario.name:<20} {scenario.label} -> {scenario.expect}  ({scenario.target})")
        return 0
    try:
        options = Options(
            scenarios=tuple(args.scenarios),
            duration=args.duration,
            warmup=args.warmup,
            connections=args.connections,
            workers=args.workers,
            database=args.database,
            redis=args.redis,
            size=args.size,
        )
        result = run(options, progress=_progress)
        json_path, markdown_path = report.write(result, args.output)
        if args.update_docs:
            report.update_docs(result)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    print(report.markdown(result))
    print(f"results: {json_path}\n         {markdown_path}", file=sys.stderr)
    for failure in result.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if result.failures else 0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """A terminated harness unwinds like an interrupted one: the servers' groups are stopped."""
    sys.exit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    sys.exit(main())
