"""`edgetwin server …`: REST API and web dashboard."""

from __future__ import annotations

import typer

app = typer.Typer(help="REST API and web dashboard.", no_args_is_help=True)
