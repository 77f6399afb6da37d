"""`edgetwin module …`: Edge modules: build, quantize, benchmark, robustness, sign."""

from __future__ import annotations

import typer

app = typer.Typer(help="Edge modules: build, quantize, benchmark, robustness, sign.", no_args_is_help=True)
