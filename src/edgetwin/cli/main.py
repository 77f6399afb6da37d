"""`edgetwin` entry point: the command groups, and one place that turns errors into messages.

Any `EdgetwinError` is printed as its message alone with exit code 2: a plant engineer who
mistyped a unit should read which field to fix, not a traceback.
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from edgetwin.cli import aas, module, pdm, server, sim, token, trace, vision
from edgetwin.cli.demo import demo_command, run_command
from edgetwin.cli.query import query_command
from edgetwin.core.errors import EdgetwinError

_app = typer.Typer(
    help="edgetwin: connect machines, keep a live digital twin, predict failures, ship edge modules.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
_app.command("demo")(demo_command)
_app.command("run")(run_command)
_app.command("query")(query_command)
for name, group in (
    ("pdm", pdm.app),
    ("vision", vision.app),
    ("module", module.app),
    ("trace", trace.app),
    ("sim", sim.app),
    ("server", server.app),
    ("aas", aas.app),
    ("token", token.app),
):
    _app.add_typer(group, name=name)


@_app.callback()
def _main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="log at DEBUG level"),
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def app() -> None:
    """Console-script entry: run the typer app, print EdgetwinErrors without a traceback."""
    try:
        _app()
    except EdgetwinError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    app()
