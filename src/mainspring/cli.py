"""The ``mainspring`` command line: serve, migrate, openapi, check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from mainspring import __version__
from mainspring.core.config import Settings

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
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    migrate: Annotated[
        bool | None,
        typer.Option(help="Apply migrations first (default: yes on the embedded SQLite)."),
    ] = None,
) -> None:
    """Serve the API (docs at /docs)."""
    import uvicorn

    from mainspring.core import migrations

    settings = _settings()
    if migrate if migrate is not None else settings.is_sqlite:
        migrations.upgrade(settings)
    host = host or settings.host
    port = port or settings.port
    console.print(
        f"[bold green]Mainspring[/] {__version__} on http://{host}:{port}  "
        f"(docs: http://{host}:{port}/docs, env: {settings.env})"
    )
    uvicorn.run(
        "mainspring.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=None if reload else (workers or settings.workers),
        reload=reload,
        proxy_headers=False,  # the app's own middleware trusts only configured proxies
        access_log=False,  # the app writes one structured line per request
        server_header=False,
        log_config=None,
    )


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
