"""``python -m mainspring`` runs the command-line interface."""

from mainspring.cli import app

app(prog_name="mainspring")
