"""``python -m bench.hashing``: the ceiling of ``realworld-login``, a bare Argon2id loop.

A sign-in is bounded by Argon2id by design: its verification is made to cost tens of
milliseconds of CPU, so that a stolen hash resists guessing. The figure to compare
``realworld-login`` with is therefore not ``baseline-json`` but this loop: verifications of one
hash with the server's own parameters (``Settings.password_hash_*``, as the bench server runs
them), in as many threads at once as the server runs (``password_hash_concurrency``: by
default the CPUs the process may run on, so run it under the server's CPUs, ``taskset -c 0``
for the bench's one-CPU server), with nothing else around them. Sign-ins a second divided by
this figure is how much of the hashing ceiling the rest of a sign-in (HTTP, its two
transactions, the session and audit rows) leaves. ``--return-memory`` frees each hash's
19 MiB to the operating system as the server does (``core/passwords.py``): the page faults of
the next hash cost about a fifth of a verification.

    taskset -c 0 .venv/bin/python -m bench.hashing --seconds 5 [--return-memory]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from mainspring.core.config_accounts import default_hash_concurrency


def verifications_per_second(threads: int, seconds: float) -> tuple[float, str]:
    """Verifications a second of one Argon2id hash in ``threads`` threads, and the parameters."""
    from pwdlib.hashers.argon2 import Argon2Hasher

    from bench.settings import seed_settings

    settings = seed_settings("sqlite+aiosqlite:///unused.db")
    hasher = Argon2Hasher(
        time_cost=settings.password_hash_time_cost,
        memory_cost=settings.password_hash_memory_kib,
        parallelism=settings.password_hash_parallelism,
    )
    password = "a password of the usual length"  # noqa: S105 - a benchmark's own
    password_hash = hasher.hash(password)
    parameters = (
        f"Argon2id t={settings.password_hash_time_cost}, "
        f"m={settings.password_hash_memory_kib} KiB, p={settings.password_hash_parallelism}"
    )

    def loop() -> int:
        done, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            assert hasher.verify(password, password_hash)
            done += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(lambda _: loop(), range(threads)))
    return total / (time.perf_counter() - started), parameters


def main(argv: Sequence[str] | None = None) -> int:
    parse = argparse.ArgumentParser(prog="python -m bench.hashing", description=__doc__)
    parse.add_argument(
        "--threads",
        type=int,
        default=None,
        help="verifications at once (default: the server's, the CPUs this process may use)",
    )
    parse.add_argument(
        "--return-memory",
        action="store_true",
        help="give each hash's memory back to the OS when it ends, as the server does",
    )
    parse.add_argument("--seconds", type=float, default=5.0, help="how long to measure")
    args = parse.parse_args(argv)
    if args.return_memory:
        from mainspring.core.passwords import return_large_blocks_to_the_os

        return_large_blocks_to_the_os()
    threads = args.threads or default_hash_concurrency()
    rate, parameters = verifications_per_second(threads, args.seconds)
    memory = ", memory returned after each" if args.return_memory else ""
    print(f"{parameters}: {rate:,.1f} verifications/s in {threads} thread(s){memory}, bare loop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
