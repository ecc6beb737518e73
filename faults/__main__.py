"""``python -m faults [--only NAME ...] [--json PATH]``: run the fault suite (see __init__)."""

from __future__ import annotations

import argparse
import asyncio
import email
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import asyncpg

from faults.scenarios import FAULTS, Bounds, Outcome, Suite, run_fault
from faults.servers import Postgres, Redis, Service
from mainspring.core.access_tokens import generate_private_key_pem

# The service's outage settings in the suite: the README's defaults, except a shorter
# statement timeout and job lease (jobs cut off by kill -9 come back within the run).
CONNECT_TIMEOUT = 2.0
POOL_TIMEOUT = 2.0
STATEMENT_TIMEOUT_MS = 3000
GRACE_SECONDS = 5
JOB_LEASE_SECONDS = 10
BOUNDS = Bounds(
    # pool wait + connect + statement (+ the client's second) + slack for a busy CI machine
    request_seconds=POOL_TIMEOUT + CONNECT_TIMEOUT + STATEMENT_TIMEOUT_MS / 1000 + 1 + 2,
    recovery_seconds=5.0,
    healthz_seconds=2.0,
)
JOBS_SETTLE_SECONDS = JOB_LEASE_SECONDS * 3 + 30


def service_env(pg: Postgres, redis: Redis, root: Path) -> dict[str, str]:
    key = json.dumps([{"kid": "faults", "key": generate_private_key_pem()}])
    return {
        "MAINSPRING_ENV": "development",
        "MAINSPRING_SECRET_KEY": "fault-suite-secret-key-0123456789abcdef",
        "MAINSPRING_DATABASE_URL": pg.url,
        "MAINSPRING_REDIS_URL": redis.url,
        "MAINSPRING_JWT_SIGNING_KEYS": key,
        "MAINSPRING_MAIL_URL": f"file:{root / 'mail'}",
        "MAINSPRING_LOG_FORMAT": "json",
        "MAINSPRING_LOG_LEVEL": "WARNING",
        "MAINSPRING_DATABASE_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT),
        "MAINSPRING_DATABASE_POOL_TIMEOUT_SECONDS": str(POOL_TIMEOUT),
        "MAINSPRING_DATABASE_STATEMENT_TIMEOUT_MS": str(STATEMENT_TIMEOUT_MS),
        "MAINSPRING_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        "MAINSPRING_JOB_LEASE_SECONDS": str(JOB_LEASE_SECONDS),
        "MAINSPRING_JOB_POLL_SECONDS": "0.5",
        "MAINSPRING_PASSWORD_HASH_TIME_COST": "1",
        "MAINSPRING_PASSWORD_HASH_MEMORY_KIB": "1024",
        "MAINSPRING_REGISTER_LIMIT_PER_IP": "1000000/minute",
        "MAINSPRING_ACCOUNT_MAIL_LIMIT_PER_ADDRESS": "1000000/minute",
        "MAINSPRING_ACCOUNT_MAIL_LIMIT_PER_IP": "1000000/minute",
        "MAINSPRING_JWT_KEYS_DIR": str(root / "keys"),
    }


async def verify(pg: Postgres, mail_dir: Path, acknowledged: list[str]) -> dict[str, int]:
    """Every acknowledged account exactly once; its mail job delivered exactly once."""
    dsn = pg.url.replace("postgresql+asyncpg", "postgresql")
    connection = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + JOBS_SETTLE_SECONDS
        while True:  # jobs cut off by a fault come back when their lease expires
            pending = await connection.fetchval(
                "SELECT count(*) FROM kernel_jobs WHERE status <> 'dead'"
            )
            if pending == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        dead = await connection.fetchval("SELECT count(*) FROM kernel_jobs WHERE status = 'dead'")
        rows = await connection.fetch(
            "SELECT username, count(*) AS n FROM users WHERE username = ANY($1) GROUP BY username",
            acknowledged,
        )
    finally:
        await connection.close()
    stored = {row["username"]: row["n"] for row in rows}
    recipients: Counter[str] = Counter()
    for path in mail_dir.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes())
        recipients[str(message["To"]).split("@", 1)[0]] += 1
    wanted = set(acknowledged)
    return {
        "acknowledged_writes": len(acknowledged),
        "lost_writes": len(wanted - set(stored)),
        "duplicated_writes": sum(1 for n in stored.values() if n > 1),
        "jobs_pending": int(pending),
        "jobs_dead": int(dead),
        "mails_missing": len(wanted - set(recipients)),
        "mails_duplicated": sum(1 for name in wanted if recipients[name] > 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m faults", description=__doc__)
    parser.add_argument("--only", nargs="*", choices=[fault.name for fault in FAULTS])
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    faults = [fault for fault in FAULTS if not args.only or fault.name in args.only]

    root = Path(tempfile.mkdtemp(prefix="mainspring-faults."))
    pg, redis = Postgres(root), Redis(root)
    service = Service(root, {})
    began = time.monotonic()
    outcomes: list[Outcome] = []
    acknowledged: list[str] = []
    try:
        print(f"faults: servers under {root}", flush=True)
        pg.init()
        redis.start()
        service.env.update(service_env(pg, redis, root))
        service.command("migrate")
        started_in = service.start()
        print(f"faults: service up in {started_in:.1f} s; bounds {asdict(BOUNDS)}", flush=True)
        suite = Suite(pg, redis, service, BOUNDS, GRACE_SECONDS)
        for fault in faults:
            outcome = run_fault(suite, fault, acknowledged)
            outcomes.append(outcome)
            verdict = "ok" if not outcome.failures else "FAIL: " + "; ".join(outcome.failures)
            print(
                f"faults: {fault.name:<10} statuses {outcome.statuses} slowest "
                f"{outcome.slowest_seconds} s recovery {outcome.recovery_seconds} s "
                f"{outcome.notes} -> {verdict}",
                flush=True,
            )
        totals = asyncio.run(verify(pg, root / "mail", acknowledged))
    finally:
        service.cleanup()
        redis.cleanup()
        pg.cleanup()
    failures = [f"{o.name}: {failure}" for o in outcomes for failure in o.failures]
    if totals["lost_writes"] or totals["duplicated_writes"]:
        failures.append(f"writes: {totals}")
    if totals["jobs_pending"] or totals["jobs_dead"] or totals["mails_missing"]:
        failures.append(f"jobs: {totals}")
    elapsed = round(time.monotonic() - began, 1)
    print(f"faults: {totals} in {elapsed} s", flush=True)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "bounds": asdict(BOUNDS),
                    "faults": [asdict(o) for o in outcomes],
                    "totals": totals,
                    "seconds": elapsed,
                },
                indent=2,
            )
        )
    if failures:
        print("faults: FAILED\n  " + "\n  ".join(failures), flush=True)
        print(f"faults: logs kept under {root}", flush=True)
        return 1
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    print("faults: passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
