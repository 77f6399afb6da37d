"""`edgetwin token …`: API tokens for everything that writes."""

from __future__ import annotations

import typer

app = typer.Typer(help="API tokens for everything that writes.", no_args_is_help=True)
