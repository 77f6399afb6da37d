"""Run the app with uvicorn on a background thread: for tests, benchmarks and notebooks.

The runtime embeds the app in its own event loop instead; this helper gives a thread-owned loop
and `call`, so a caller on another thread can feed the twin *inside* that loop, the same way
the runtime does, without races on the twin's dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from edgetwin.core.errors import EdgetwinError

T = TypeVar("T")


class ServerThread:
    """`with ServerThread(app, port=8123) as srv: srv.url ...`; binds 127.0.0.1 by default."""

    def __init__(
        self, app: FastAPI, *, host: str = "127.0.0.1", port: int = 8080, log_level: str = "warning"
    ) -> None:
        self.host, self.port = host, port
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on")
        )
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=f"edgetwin-http-{port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def start(self, timeout_s: float = 20.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise EdgetwinError(f"HTTP server did not start on {self.url}; is the port in use?")
            time.sleep(0.02)
        return self

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the server's event loop and return its result."""

        async def run() -> T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=30)

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def start_in_loop(
    app: FastAPI, *, host: str = "127.0.0.1", port: int = 8080, log_level: str = "warning"
) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """Start uvicorn inside the running event loop (the runtime's); stop with `server.should_exit = True`
    then `await task`. Returns once the socket is bound, so the caller can print the URL."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on")
    server = uvicorn.Server(config)
    # the runtime owns SIGINT/SIGTERM: keep uvicorn from replacing its handlers while serving
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve(), name=f"edgetwin-http-{port}")
    while not server.started:
        if task.done():
            task.result()  # re-raise the bind error
            raise EdgetwinError(f"HTTP server on {host}:{port} stopped during start-up")
        await asyncio.sleep(0.02)
    return server, task
