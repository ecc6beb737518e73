"""The ``mainspring`` command line: serve, migrate, openapi, check, users."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from mainspring import __version__
from mainspring.core.config import Settings

if TYPE_CHECKING:
    from mainspring.accounts.schemas import RegisterRequest
    from mainspring.core.background import JobStatus
    from mainspring.core.models import Job
    from mainspring.seed import DemoAccount

app = typer.Typer(
    name="mainspring",
    help="Mainspring: a reference backend in Python.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def _settings() -> Settings:

    try:
        return Settings()
    except ValidationError as exc:
        err_console.print(f"[bold red]Invalid configuration[/]\n{exc}")
        raise typer.Exit(code=2) from exc


def _version(value: bool) -> None:
    if value:
        console.print(f"mainspring {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Mainspring: every system of the backend roadmap, as modules of one service."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default MAINSPRING_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default MAINSPRING_PORT).")] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes, forked from one built app (MAINSPRING_WORKERS)."),
    ] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    migrate: Annotated[
        bool | None,
        typer.Option(help="Apply migrations first (default: yes on the embedded SQLite)."),
    ] = None,
    demo: Annotated[
        bool | None,
        typer.Option(
            help="Seed demo data into an empty database (default: yes on the embedded SQLite, "
            "outside production)."
        ),
    ] = None,
    grace: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="On SIGTERM: seconds for in-flight requests, then for running jobs "
            "(default MAINSPRING_SHUTDOWN_GRACE_SECONDS).",
        ),
    ] = None,
) -> None:
    """Serve the API (docs at /docs). SIGTERM drains: stop accepting, finish in-flight
    requests within the grace period, then stop the in-process worker (its unfinished jobs'
    leases are given back) — what a rolling restart needs."""
    import asyncio

    import uvicorn

    settings = _settings()
    if grace is not None:
        # The workers build their app from the environment: hand them the same grace.
        os.environ["MAINSPRING_SHUTDOWN_GRACE_SECONDS"] = str(grace)
        settings = settings.model_copy(update={"shutdown_grace_seconds": grace})
    # Alembic and the demo data are imported only when they run: with one worker this process
    # becomes the worker, and what it imported stays in its memory (tens of MiB).
    if migrate if migrate is not None else settings.is_sqlite:
        from mainspring.core import migrations

        migrations.upgrade(settings)
    wants_demo = demo if demo is not None else settings.is_sqlite and settings.env != "production"
    if wants_demo:
        from mainspring import seed

        if asyncio.run(seed.database_is_empty(settings)):
            _print_demo_accounts(asyncio.run(seed.seed_demo(settings)))
    host = host or settings.host
    port = port or settings.port
    console.print(
        f"[bold green]Mainspring[/] {__version__} on http://{host}:{port}  "
        f"(docs: http://{host}:{port}/docs, env: {settings.env}, background worker: "
        f"{'in-process' if settings.worker_in_process else 'run `mainspring worker`'})"
    )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "proxy_headers": False,  # the app's own middleware trusts only configured proxies
        "access_log": False,  # the app writes one structured line per request
        "server_header": False,
        # No permessage-deflate on WebSockets: its two zlib streams held about 45 KiB per idle
        # chat socket (half of what one cost), for frames of a few hundred bytes.
        "ws_per_message_deflate": False,
        "log_config": None,
        "timeout_graceful_shutdown": settings.shutdown_grace_seconds,
    }
    processes = 1 if reload else (workers or settings.workers)
    if processes > 1:
        # Several workers: the app is built once here, then the workers are forked
        # (core/prefork.py), instead of uvicorn's supervisor, which spawns each worker to
        # import and build everything again.
        from mainspring.app import create_app
        from mainspring.core import prefork

        config = uvicorn.Config(create_app, factory=True, workers=processes, **options)
        # Requests drain within the grace period, then the in-process worker's jobs do.
        stop_timeout = 2 * settings.shutdown_grace_seconds + 5
        raise typer.Exit(prefork.serve(config, stop_timeout=stop_timeout))
    uvicorn.run("mainspring.app:create_app", factory=True, reload=reload, **options)


@app.command("seed")
def seed_command(
    demo: Annotated[
        bool, typer.Option("--demo", help="Create demo users and module data.")
    ] = False,
    size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Scale factor: 1 = 10 users, 30 articles...")
    ] = 1,
) -> None:
    """Fill the database with realistic demo data (never in production)."""
    import asyncio

    from mainspring import seed

    if not demo:
        err_console.print("Nothing to do: pass --demo.")
        raise typer.Exit(code=2)
    settings = _settings()
    if settings.env == "production":
        err_console.print("[bold red]Refusing to seed demo accounts in production.[/]")
        raise typer.Exit(code=2)
    _print_demo_accounts(asyncio.run(seed.seed_demo(settings, size)))


def _print_demo_accounts(accounts: list[DemoAccount]) -> None:
    table = Table(title="Demo accounts (development only)")
    for column in ("username", "email", "password", "role"):
        table.add_column(column)
    for account in accounts:
        table.add_row(account.username, account.email, account.password, account.role)
    console.print(table)


@app.command()
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1, max=256, help="Jobs run at once (default MAINSPRING_WORKER_CONCURRENCY)."
        ),
    ] = None,
    queues: Annotated[str, typer.Option(help="Comma-separated queues to serve.")] = "default",
) -> None:
    """Run a background worker (jobs and schedules) until Ctrl-C or SIGTERM."""
    import asyncio

    from mainspring.app import create_app
    from mainspring.core.background import run_worker

    # This process is the worker: the application it builds must not start another one.
    settings = _settings().model_copy(update={"worker_in_process": False})
    names = [name.strip() for name in queues.split(",") if name.strip()]
    console.print(f"[bold green]Mainspring worker[/] {__version__} on queues: {', '.join(names)}")
    asyncio.run(run_worker(create_app(settings), concurrency=concurrency, queues=names))


jobs_app = typer.Typer(help="Background jobs: list queued, running and dead ones; retry the dead.")
app.add_typer(jobs_app, name="jobs")


@jobs_app.callback(invoke_without_command=True)
def jobs(
    ctx: typer.Context,
    status: Annotated[
        list[str] | None,
        typer.Option("--status", "-s", help="queued, running or dead; repeatable (default: all)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows to show.")] = 50,
) -> None:
    """List background jobs, the next due first (done jobs are not kept)."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio

    from mainspring.core.background import JOB_STATUSES

    unknown = sorted(set(status or ()) - set(JOB_STATUSES))
    if unknown:
        raise typer.BadParameter(f"unknown status {unknown}; use {', '.join(JOB_STATUSES)}")
    statuses = [known for known in JOB_STATUSES if not status or known in status]
    rows = asyncio.run(_list_jobs(_settings(), statuses, limit))
    if not rows:
        console.print(f"No {' or '.join(statuses)} jobs.")
        return
    table = Table(title="Background jobs")
    for column in ("id", "task", "queue", "status", "attempts", "run at", "locked by", "error"):
        table.add_column(column, overflow="fold" if column == "id" else "ellipsis")
    for job in rows:
        error = job.last_error.strip().splitlines()[-1][:100] if job.last_error else ""
        table.add_row(
            str(job.id),
            job.task_name,
            job.queue,
            job.status,
            f"{job.attempts}/{job.max_attempts}",
            job.run_at.isoformat(timespec="seconds"),
            job.locked_by or "",
            error,
        )
    console.print(table)


@jobs_app.command("retry")
def jobs_retry(job_id: Annotated[uuid.UUID, typer.Argument(help="The dead job's id.")]) -> None:
    """Queue a dead job again, with a fresh set of attempts."""
    import asyncio

    from mainspring.core.background import Background

    async def retry() -> bool:
        async with Background.open(_settings()) as background:
            return await background.retry(job_id)

    if not asyncio.run(retry()):
        err_console.print(f"[red]No dead job {job_id}.[/]")
        raise typer.Exit(code=1)
    console.print(f"[green]Job {job_id} is queued again.[/]")


async def _list_jobs(settings: Settings, statuses: list[JobStatus], limit: int) -> list[Job]:
    from mainspring.core.background.queue import JobQueue
    from mainspring.core.db import Database

    database = Database(settings)
    try:
        return await JobQueue(database, settings).list_jobs(statuses, limit)
    finally:
        await database.dispose()


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to REVISION.")] = False,
) -> None:
    """Apply (or with --down, revert) database migrations."""
    from mainspring.core import migrations

    settings = _settings()
    if down:
        migrations.downgrade(settings, revision)
    else:
        migrations.upgrade(settings, revision)
    console.print(f"[green]Database at {revision}.[/]")


@app.command()
def openapi(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Write the OpenAPI document."""
    from mainspring.app import create_app

    spec = json.dumps(create_app(_settings()).openapi(), indent=2, sort_keys=False)
    if output is None:
        typer.echo(spec)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(spec + "\n")
        console.print(f"[green]Wrote {output}[/]")


@app.command()
def check() -> None:
    """Print the effective configuration (secrets masked); fail on unsafe production settings."""
    settings = _settings()
    table = Table(title="Mainspring configuration", show_lines=False)
    table.add_column("setting", style="cyan")
    table.add_column("value")
    for name, value in settings.masked().items():
        table.add_row(f"MAINSPRING_{name.upper()}", json.dumps(value))
    console.print(table)
    # In production, Settings() itself refuses unsafe values (exit 2 above).
    for problem in settings.production_problems():
        console.print(f"[yellow]not production-ready:[/] {problem}")
    console.print("[green]Configuration is valid.[/]")


users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True, help="Email address.")],
    username: Annotated[str, typer.Option(prompt=True, help="Username.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="MAINSPRING_ADMIN_PASSWORD",
            help="Asked for when omitted (better than a flag, which shell history keeps).",
        ),
    ],
) -> None:
    """Create an administrator whose email counts as verified."""
    import asyncio

    from mainspring.accounts.schemas import RegisterRequest
    from mainspring.core.errors import MainspringError

    settings = _settings()
    try:
        data = RegisterRequest(email=email, username=username, password=password)
    except ValidationError as exc:
        err_console.print(f"[bold red]Invalid account[/]\n{exc}")
        raise typer.Exit(code=2) from exc
    try:
        user_id = asyncio.run(_create_admin(settings, data))
    except MainspringError as exc:
        err_console.print(f"[bold red]Not created:[/] {exc.detail or exc.title}")
        raise typer.Exit(code=1) from exc
    console.print(f"[green]Administrator {data.username} created[/] (id {user_id}).")


async def _create_admin(settings: Settings, data: RegisterRequest) -> uuid.UUID:
    from mainspring.accounts.service.registration import registration_service
    from mainspring.core.auth import Role
    from mainspring.core.db import Database
    from mainspring.core.passwords import PasswordHasher

    database = Database(settings)
    try:
        async with database.session() as session:
            user = await registration_service.create_account(
                session,
                PasswordHasher.from_settings(settings),
                email=data.email,
                username=data.username,
                password=data.password,
                display_name=data.display_name,
                role=Role.ADMIN,
                verified=True,
            )
            return user.id
    finally:
        await database.dispose()
