"""`edgetwin aas …`: Asset Administration Shell export and import."""

from __future__ import annotations

import typer

app = typer.Typer(help="Asset Administration Shell export and import.", no_args_is_help=True)
