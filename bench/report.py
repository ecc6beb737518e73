"""The results of a run: a JSON file, a Markdown table, and that table in docs/performance.md.

Files go to ``bench/results/`` (git-ignored) as ``<UTC time>-<key>.json`` and ``.md``, the key
naming what the figures are comparable with (``sqlite-1-worker``). ``--update-docs`` puts the
table in ``docs/performance.md`` between ``<!-- bench:<key> -->`` and ``<!-- /bench:<key> -->``,
replacing the previous run's with the same key, or, for a new key, before
``<!-- /bench:results -->``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.backends import redact
from bench.errors import BenchError
from bench.machine import PROJECT_ROOT
from bench.runner import RunResult, ScenarioResult

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
DOCS_PATH = PROJECT_ROOT / "docs" / "performance.md"
RESULTS_END = "<!-- /bench:results -->"
DATABASE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def to_json(run: RunResult) -> dict[str, Any]:
    """The run as JSON-ready data, with every password in a URL hidden."""
    data = dataclasses.asdict(run)
    data["options"]["database"] = _database_option(run)
    if run.options.redis:
        data["options"]["redis"] = redact(run.options.redis)
    data["key"] = run.key
    data["failures"] = run.failures
    return data


def command(run: RunResult) -> str:
    """The command line that reproduces ``run``."""
    options = run.options
    parts = ["python -m bench", *options.scenarios]
    parts += ["--duration", str(options.duration), "--warmup", str(options.warmup)]
    parts += ["--connections", str(options.connections), "--workers", str(options.workers)]
    parts += ["--size", str(options.size), "--database", _database_option(run)]
    if options.redis:
        parts += ["--redis", redact(options.redis)]
    return " ".join(parts)


def _database_option(run: RunResult) -> str:
    return "sqlite" if run.database == "sqlite" else run.database_url


def title(run: RunResult) -> str:
    workers = run.options.workers
    redis = " + Redis" if run.options.redis else ""
    return f"{DATABASE_NAMES[run.database]}{redis}, {workers} worker{'s' if workers > 1 else ''}"


def markdown(run: RunResult) -> str:
    """The run as a titled Markdown section: machine, command, then one row per scenario."""
    machine = run.machine
    options = run.options
    lines = [
        f"### {title(run)}",
        "",
        f"Measured {run.started_at} at commit `{machine.commit}` on {machine.cpu_model} "
        f"({machine.cpus} CPUs, {machine.memory_gib} GiB), Linux {machine.kernel}, "
        f"Python {machine.python}, uvicorn {machine.uvicorn}, {machine.wrk}: "
        f"{options.connections} connections, {options.duration} s per scenario after "
        f"{options.warmup} s of warm-up; {run.cpus.describe()}; load average "
        f"{run.load_average:.2f} at the start.",
        "",
        f"`{command(run)}`",
        "",
        "| scenario | request | req/s | vs baseline | p50 ms | p90 ms | p99 ms | max ms "
        "| errors | SQL/req | peak RSS MiB | bound by |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [_row(result) for result in run.scenarios]
    return "\n".join(lines) + "\n"


def _row(result: ScenarioResult) -> str:
    latency = result.latency_ms
    ratio = "baseline" if result.baseline is None else _ratio(result.ratio)
    cells = [
        f"`{result.name}`",
        f"`{result.request}` → {result.expect}",
        f"{result.requests_per_second:,.0f}",
        ratio,
        f"{latency.p50:.2f}",
        f"{latency.p90:.2f}",
        f"{latency.p99:.2f}",
        f"{latency.max:.2f}",
        _errors(result),
        "—" if result.statements is None else str(result.statements),
        f"{result.peak_memory_mib:.1f}",
        _bound_by(result),
    ]
    return "| " + " | ".join(cells) + " |"


def _bound_by(result: ScenarioResult) -> str:
    """What limits the figure, and for a mixed scenario what its storm did meanwhile."""
    storm = result.storm
    if storm is None:
        return result.bound_by
    errors = f", **{storm.errors} errors** ({storm.statuses})" if storm.errors else ""
    return (
        f"{result.bound_by}; meanwhile `{storm.name}` on {storm.connections} connections: "
        f"{storm.requests_per_second:,.0f} req/s{errors}"
    )


def _errors(result: ScenarioResult) -> str:
    """``0``, or the count in bold with what the errors were: ``**4** (503: 4)``."""
    if result.errors == 0:
        return "0"
    kinds = [
        f"{status}: {count}" for status, count in result.statuses.items() if status != result.expect
    ]
    kinds += [f"{kind}: {count}" for kind, count in result.socket_errors.items() if count]
    return f"**{result.errors}** ({', '.join(kinds)})"


def _ratio(ratio: float | None) -> str:
    """Two significant digits: ``0.1``, ``0.045``, ``0.0025``."""
    return "—" if ratio is None else f"{ratio:.2g}"


def write(run: RunResult, directory: Path = RESULTS_DIR) -> tuple[Path, Path]:
    """Write ``<time>-<key>.json`` and ``.md`` into ``directory``; return both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(run.started_at).strftime("%Y%m%dT%H%M%SZ")
    base = directory / f"{stamp}-{run.key}"
    json_path, markdown_path = base.with_suffix(".json"), base.with_suffix(".md")
    json_path.write_text(json.dumps(to_json(run), indent=2) + "\n")
    markdown_path.write_text(markdown(run))
    return json_path, markdown_path


def update_docs(run: RunResult, path: Path = DOCS_PATH) -> None:
    """Put the run's section into ``path``, in place of the previous one with the same key."""
    start, end = f"<!-- bench:{run.key} -->", f"<!-- /bench:{run.key} -->"
    section = f"{start}\n{markdown(run)}{end}"
    text = path.read_text()
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = before + section + after
    elif RESULTS_END in text:
        text = text.replace(RESULTS_END, f"{section}\n\n{RESULTS_END}", 1)
    else:
        raise BenchError(f"{path} has no {RESULTS_END} marker to put the results before")
    path.write_text(text)
