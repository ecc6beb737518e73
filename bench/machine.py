"""The machine and software a run measured: a figure means little without them."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from bench import wrk

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Machine:
    cpu_model: str
    cpus: int
    memory_gib: float
    kernel: str
    python: str
    uvicorn: str
    wrk: str
    commit: str

    @classmethod
    def describe(cls) -> Machine:
        return cls(
            cpu_model=_cpu_model(),
            cpus=os.cpu_count() or 1,
            memory_gib=round(_memory_kib() / 1024 / 1024, 1),
            kernel=platform.release(),
            python=platform.python_version(),
            uvicorn=version("uvicorn"),
            wrk=wrk.version(),
            commit=_commit(),
        )


def _cpu_model() -> str:
    """The ``model name`` of ``/proc/cpuinfo`` (the platform's processor name elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_kib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _commit() -> str:
    """The checked-out commit, ``+changes`` when the work tree differs from it."""

    def git(*args: str) -> str:
        try:
            result = subprocess.run(
                ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
            )
        except OSError:  # no git on this machine
            return ""
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")
