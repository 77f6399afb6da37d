"""`create_app`: the REST API (with its OpenAPI document) and the web dashboard in one FastAPI app.

The runtime owns the twin and the store and starts this app with uvicorn in its own event loop,
so the API reads live state straight from memory. Errors the rooms raise on purpose become 4xx
answers whose `detail` says what to fix; nothing else leaks a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from edgetwin.alarms import AlarmError
from edgetwin.core.errors import AuthError, DataError, EdgetwinError, StoreError
from edgetwin.server import api_modules, api_ops, api_twin
from edgetwin.server.auth import TokenStore
from edgetwin.server.context import ServerContext
from edgetwin.twin import Twin, TwinError, WorkOrderError

log = logging.getLogger(__name__)


def static_dir() -> Path:
    return Path(str(resources.files("edgetwin.server") / "static"))


def create_app(
    twin: Twin,
    store: Any = None,
    *,
    token_store: TokenStore | None = None,
    modules_dir: str | Path | None = None,
    public_url: str = "",
    persist_events: bool = True,
    tick_s: float = 1.0,
) -> FastAPI:
    """Build the app around a live twin and (optionally) the history store.

    `persist_events`: append the events of operator actions (acks, shelves, work orders) to
    `store`, so they are in the asset's history. `tick_s`: how often timed shelves are expired.
    """
    tokens = token_store if token_store is not None else TokenStore.default()
    context = ServerContext(
        twin, store, tokens, Path(modules_dir) if modules_dir else None, public_url
    )
    if persist_events and store is not None:
        twin.add_event_sink(_event_writer(store, context))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async def ticker() -> None:
            while True:
                await asyncio.sleep(tick_s)
                try:
                    twin.tick()
                except Exception:
                    log.exception("alarm tick failed")

        task = asyncio.create_task(ticker(), name="twin-tick")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="edgetwin",
        version="0.1.0",
        description=(
            "Live digital twin of the plant: assets, signals, events, ISA-18.2 alarms, work orders, "
            "edge modules and AASX export. Reads are open on the bound interface; every write needs "
            "`Authorization: Bearer <token>` (create tokens with `edgetwin token create NAME`)."
        ),
        lifespan=lifespan,
    )
    app.state.ctx = context
    _error_handlers(app)
    app.include_router(api_twin.router)
    app.include_router(api_ops.router)
    app.include_router(api_modules.router)

    @app.get("/api/health", tags=["server"], summary="Liveness: always 200 while the server runs")
    def health() -> dict[str, Any]:
        return {"ok": True, "plant": twin.plant.name, "assets": len(twin.asset_paths())}

    static = static_dir()
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(static / "index.html", headers={"Cache-Control": "no-cache"})

    return app


def _event_writer(store: Any, context: ServerContext) -> Callable[[pa.Table], None]:
    """Persist operator-action events off the event loop, in order, on one writer thread.

    Operator actions run in the event loop (the twin is only touched from there, like the
    runtime touches it); the store append is blocking, so it goes to a single-thread executor
    and the endpoint awaits it (`ServerContext.settle`) before answering.
    """
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgetwin-events")

    def log_failure(fut: asyncio.Future[Any]) -> None:
        if not fut.cancelled() and fut.exception() is not None:
            log.error("storing operator events failed: %s", fut.exception())

    def persist(table: pa.Table) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            store.append_events(table)  # called outside any loop (scripts, tests): just write
            return
        fut = loop.run_in_executor(writer, store.append_events, table)
        fut.add_done_callback(log_failure)
        context.pending[:] = [f for f in context.pending if not f.done()] + [fut]

    return persist


def _error_handlers(app: FastAPI) -> None:
    def reply(status: int, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(EdgetwinError)
    async def edgetwin_error(request: Request, exc: EdgetwinError) -> JSONResponse:
        text = str(exc)
        if isinstance(exc, AuthError):
            return reply(403, exc)
        if isinstance(exc, TwinError | AlarmError | WorkOrderError) and text.startswith("unknown"):
            return reply(404, exc)
        if isinstance(exc, AlarmError | WorkOrderError):
            return reply(409, exc)  # valid request, but the current state does not allow it
        if isinstance(exc, StoreError):
            return reply(400, exc) if "must be" in text or "unknown" in text else reply(500, exc)
        if isinstance(exc, DataError):
            return reply(400, exc)
        return reply(400, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x != "body") or "body"
            msg = err.get("msg", "invalid")
            if err.get("type") == "extra_forbidden":
                msg = "unknown field; remove it or check its spelling"
            elif err.get("type") == "missing":
                msg = "required; add it"
            problems.append(f"{where}: {msg}")
        return JSONResponse(
            {"detail": "; ".join(problems), "errors": jsonable_encoder(exc.errors())},
            status_code=422,
        )
