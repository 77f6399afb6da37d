"""Running a pipeline in the terminal: live table, dashboard in the same loop, clean stop.

Shared by `edgetwin demo` and `edgetwin run`. Ctrl-C and SIGTERM set one event; the pipeline
then stops its sources, drains what they emitted, flushes the store and stops its sinks.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live

from edgetwin.cli.live_view import LiveView
from edgetwin.runtime.pipeline import Pipeline
from edgetwin.twin import Twin

console = Console()


@dataclass
class WebOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    modules_dir: Path | None = None


async def _serve(web: WebOptions, twin: Twin, store: Any) -> tuple[Any, asyncio.Task[None]]:
    """The dashboard and REST API in this event loop; prints the URL (with a write token)."""
    from edgetwin.server import TokenStore, create_app
    from edgetwin.server.background import start_in_loop

    url = f"http://{web.host}:{web.port}/"
    tokens = TokenStore.default()
    token = tokens.create(f"demo-{int(time.time())}")
    app = create_app(twin, store, token_store=tokens, modules_dir=web.modules_dir, public_url=url)
    server, task = await start_in_loop(app, host=web.host, port=web.port)
    console.print(f"dashboard: [bold]{url}#token={token}[/]  (API docs: {url}docs)")
    return server, task


async def _run(
    pipeline: Pipeline,
    view: LiveView,
    *,
    headless: bool,
    title: str,
    until_sources_end: bool,
    web: WebOptions | None = None,
    linger_s: float = 0.0,
) -> None:
    """Start the pipeline, show the live view, stop cleanly on Ctrl-C/SIGTERM or when done."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    server = None
    if web is not None:
        server = await _serve(web, pipeline.twin, pipeline.store)
    await pipeline.start()
    if headless:
        console.print("running: Ctrl-C or SIGTERM stops it cleanly (everything ingested is kept)")
    waiters: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
    if until_sources_end:
        waiters.append(asyncio.create_task(pipeline.wait_sources()))
    live = None if headless else Live(view.render(title), console=console, refresh_per_second=4)
    try:
        if live is not None:
            live.start()
        while not any(w.done() for w in waiters):
            await asyncio.wait(waiters, timeout=0.25, return_when=asyncio.FIRST_COMPLETED)
            if live is not None:
                live.update(view.render(title))
    finally:
        for w in waiters:
            w.cancel()
        await pipeline.stop()
        if live is not None:
            live.update(view.render(title))
            live.stop()
        if server is not None:
            if linger_s > 0 and not stop.is_set():
                console.print(
                    f"plant run finished; dashboard stays up {linger_s:.0f} s (Ctrl-C to quit)"
                )
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=linger_s)
            server[0].should_exit = True
            await server[1]
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
