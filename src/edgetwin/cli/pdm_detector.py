"""`edgetwin pdm` commands of this group; `register` adds them to the pdm app."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this group's commands to `edgetwin pdm`."""
