"""`edgetwin trace …`: The hash-chained ledger of data, models, modules and decisions."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from edgetwin.trace.ledger import KINDS, Ledger

app = typer.Typer(
    help="The hash-chained ledger of data, models, modules and decisions.", no_args_is_help=True
)
console = Console()


def _ledger(path: Path) -> Ledger:
    # Accept the DuckDB history file too: its ledger lives beside it.
    if path.suffix == ".duckdb":
        return Ledger.beside(path)
    return Ledger(path)


@app.command("verify")
def verify(
    path: Path = typer.Argument(..., help="ledger .jsonl (or the .duckdb file it sits beside)"),
    head: str = typer.Option(
        None, "--head", help="head hash published elsewhere, to detect a rewritten chain"
    ),
) -> None:
    """Check every entry's hash and the chain; name the first edited, removed or reordered entry."""
    led = _ledger(path)
    if not led.path.exists():
        console.print(f"[red]no ledger at {led.path}[/]")
        raise typer.Exit(2)
    report = led.verify(expected_head=head)
    if report.ok:
        kinds = ", ".join(f"{k}={v}" for k, v in sorted(report.kinds.items()))
        head_note = (
            "head checked" if report.checked_head else "no head file: truncation not checkable"
        )
        console.print(
            f"[green]OK[/] {report.entries} entries ({kinds}); head {report.head_hash} ({head_note})"
        )
        return
    console.print(f"[bold red]TAMPERED[/] {led.path}: {report.problem}")
    raise typer.Exit(1)


@app.command("log")
def log(
    path: Path = typer.Argument(..., help="ledger .jsonl (or the .duckdb file it sits beside)"),
    kind: str = typer.Option(None, "--kind", help=f"only entries of this kind ({'|'.join(KINDS)})"),
    subject: str = typer.Option(None, "--subject", help="only entries about this subject"),
    limit: int = typer.Option(50, "--limit", "-n", help="show the last N entries (0: all)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON lines instead of a table"),
) -> None:
    """Show ledger entries (newest last)."""
    entries = list(_ledger(path).entries(kind=kind, subject=subject))
    if limit > 0:
        entries = entries[-limit:]
    if as_json:
        for e in entries:
            typer.echo(json.dumps(e, sort_keys=True))
        return
    table = Table(title=f"ledger {path}")
    for col in ("seq", "ts", "kind", "subject", "payload", "hash"):
        table.add_column(col, overflow="fold")
    for e in entries:
        payload = json.dumps(e["payload"], sort_keys=True)
        table.add_row(
            str(e["seq"]),
            str(e["ts"]),
            str(e["kind"]),
            str(e["subject"]),
            payload if len(payload) <= 120 else payload[:117] + "...",
            str(e["hash"])[:12],
        )
    console.print(table)
