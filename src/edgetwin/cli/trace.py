"""`edgetwin trace …`: The hash-chained ledger of data, models, modules and decisions."""

from __future__ import annotations

import typer

app = typer.Typer(help="The hash-chained ledger of data, models, modules and decisions.", no_args_is_help=True)
