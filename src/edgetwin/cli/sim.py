"""`edgetwin sim …`: The simulated plant, served over real protocols."""

from __future__ import annotations

import typer

app = typer.Typer(help="The simulated plant, served over real protocols.", no_args_is_help=True)
