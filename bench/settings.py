"""Application settings built from explicit values only, for the seeds and the in-process profile.

``Settings()`` reads ``MAINSPRING_*`` variables and the ``.env`` file of the working directory,
and the harness runs in a developer's shell, in the project's directory, where both may name a
development database, a Redis, weaker password hashing... The server under test never sees them
(``backends.server_environment`` drops the shell's ``MAINSPRING_*``, and the server runs in the
run's own directory, where no ``.env`` is), and what the harness builds in its own process must
not either: these settings come from their arguments and the defaults, nothing else.
"""

from __future__ import annotations

from typing import Any

from mainspring.core.config import OwnValuesOnly, Settings


class _ExplicitSettings(OwnValuesOnly, Settings):
    """``Settings`` built from the values given to it, and the defaults, only."""


def explicit_settings(**values: Any) -> Settings:
    """``Settings(**values)``, validated as usual, whatever the environment says."""
    return _ExplicitSettings(**values)


def seed_settings(database_url: str) -> Settings:
    """What a seed writes with: development settings on the run's database, the defaults (the
    server's too) for everything else, password hashing included."""
    return explicit_settings(env="development", database_url=database_url)
