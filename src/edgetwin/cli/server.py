"""`edgetwin server …`: REST API and web dashboard."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.console import Console

from edgetwin.core.config import load_plant

app = typer.Typer(help="REST API and web dashboard.", no_args_is_help=True)
console = Console()
log = logging.getLogger(__name__)


@app.command("serve")
def serve(
    plant: Path = typer.Option(..., help="plant.yaml"),
    db: Path | None = typer.Option(
        None, help="DuckDB history file or postgresql:// URL (omit for live state only)"
    ),
    host: str | None = typer.Option(
        None, help="bind address (default: plant server.host, 127.0.0.1)"
    ),
    port: int | None = typer.Option(None, help="HTTP port (default: plant server.http_port, 8080)"),
    modules_dir: Path | None = typer.Option(None, help="folder with edge modules (.etm) to list"),
    tokens: Path | None = typer.Option(
        None, help="token file (default: $EDGETWIN_HOME/tokens.json)"
    ),
    state_dir: Path | None = typer.Option(
        None, help="where work orders persist (default: beside --db)"
    ),
) -> None:
    """Serve the API and dashboard for a plant, standalone (without the runtime feeding it)."""
    import uvicorn

    from edgetwin.server import TokenStore, create_app
    from edgetwin.store import open_store
    from edgetwin.twin import Twin

    cfg = load_plant(plant)
    from edgetwin.store.location import store_location

    store_url, anchor = store_location(db) if db else ("", None)
    store = open_store(store_url) if db else None
    state = state_dir or (anchor.parent if anchor else Path.cwd())
    twin = Twin.from_config(cfg, state_dir=state)
    if store is not None:
        latest = store.latest()
        if latest.num_rows:
            twin.ingest(latest)  # start from the last stored values, not from nothing
    bind = host or cfg.server.host
    http_port = port if port is not None else cfg.server.http_port
    url = f"http://{bind}:{http_port}/"
    app_ = create_app(
        twin,
        store,
        token_store=TokenStore(tokens) if tokens else None,
        modules_dir=modules_dir,
        public_url=url,
    )
    console.print(f"edgetwin server: dashboard and API at {url} (OpenAPI: {url}docs)")
    try:
        uvicorn.run(app_, host=bind, port=http_port, log_level="warning")
    finally:
        if store is not None:
            store.close()
        twin.close()
