"""`edgetwin token …`: API tokens for everything that writes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from edgetwin.server.auth import TokenStore

app = typer.Typer(help="API tokens for everything that writes.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

TokensOpt = typer.Option(None, "--file", help="token file (default: $EDGETWIN_HOME/tokens.json)")


def _store(path: Path | None) -> TokenStore:
    return TokenStore(path) if path else TokenStore.default()


@app.command("create")
def create(
    name: str = typer.Argument(..., help="who or what uses it (alice, scada-gw)"),
    file: Path | None = TokensOpt,
) -> None:
    """Create a token and print it once; only its SHA-256 hash is stored."""
    store = _store(file)
    token = store.create(name)
    typer.echo(token)
    err.print(
        f"[dim]token for {name!r} stored hashed in {store.path}; it will not be shown again[/]",
        highlight=False,
    )


@app.command("list")
def list_tokens(file: Path | None = TokensOpt) -> None:
    """Names and creation times of the stored tokens (never the tokens)."""
    table = Table("name", "created (UTC)")
    for t in _store(file).list():
        table.add_row(
            t["name"],
            datetime.fromtimestamp(t["created_ns"] / 1e9, UTC).isoformat(timespec="seconds"),
        )
    console.print(table)


@app.command("revoke")
def revoke(name: str, file: Path | None = TokensOpt) -> None:
    """Remove every token of NAME."""
    n = _store(file).revoke(name)
    console.print(f"revoked {n} token(s) of {name!r}")
    if n == 0:
        raise typer.Exit(1)
