"""`edgetwin vision …`: Visual inspection: train on good parts, evaluate, inspect."""

from __future__ import annotations

import typer

app = typer.Typer(help="Visual inspection: train on good parts, evaluate, inspect.", no_args_is_help=True)
