"""`edgetwin query SIGNAL --since 1h --every 1m`: a downsampled table from the store."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from edgetwin.core.errors import StoreError
from edgetwin.store import open_store
from edgetwin.store.timeutil import parse_duration_s, to_ns


def query_command(
    signal: str = typer.Argument(
        ..., help="signal id, e.g. acme/site1/area1/line1/pump1/motor_temp"
    ),
    since: str = typer.Option("1h", help="how far back: a duration (15m, 1h, 7d) or an ISO time"),
    until: str = typer.Option("", help="end: an ISO time (default: the newest sample)"),
    every: str = typer.Option("1m", help="bucket width (10s, 1m, 1h)"),
    db: Path = typer.Option(
        Path("edgetwin.duckdb"), help="DuckDB history file or postgresql:// URL"
    ),
) -> None:
    """Print min/max/avg/last per time bucket of one signal."""
    from edgetwin.store.location import display_name, is_url, store_location

    if not is_url(db) and not db.exists():
        raise StoreError(f"{db}: no such store; run `edgetwin demo` first or pass --db PATH")
    store = open_store(store_location(db)[0], read_only=True)
    try:
        latest = store.latest(signal)
        if latest.num_rows == 0:
            known = store.signals()
            hint = ", ".join(known[:8]) + (" …" if len(known) > 8 else "")
            raise StoreError(
                f"signal {signal!r} has no samples in {display_name(db)}; known signals: {hint}"
            )
        # 'since' is relative to the newest sample, so a finished demo can still be queried
        newest = int(latest.column("ts").cast("int64")[0].as_py())
        start = to_ns(since, now_ns=newest + 1)
        end = to_ns(until) if until else newest + 1
        table = store.downsample(signal, parse_duration_s(every), start=start, end=end)
    finally:
        store.close()
    out = Table(title=f"{signal} every {every}", show_lines=False)
    for col in ("bucket (UTC)", "min", "max", "avg", "last", "n"):
        out.add_column(col, justify="right" if col != "bucket (UTC)" else "left")
    for row in table.to_pylist():
        out.add_row(
            row["ts"].strftime("%Y-%m-%d %H:%M:%S"),
            *(f"{row[k]:.4g}" for k in ("min", "max", "avg", "last")),
            str(row["n"]),
        )
    Console().print(out)
