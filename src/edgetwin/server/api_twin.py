"""Read side of the REST API: plant tree, assets, signals (latest, range, downsampled), events,
and the server-sent-events stream that keeps the dashboard live.

Chart data is columnar JSON (`t` in epoch seconds, one array per column) because that is what
the charting library takes without reshaping, and it is several times smaller than row objects.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from edgetwin.server.context import ServerContext, context_of, ctx, require_store, time_param

router = APIRouter(prefix="/api", tags=["twin"])

MAX_SAMPLES = 1_000_000


def _clean(xs: np.ndarray) -> list[float | None]:
    """NaN/inf are not JSON: send null."""
    out = xs.astype(float).tolist()
    if np.isfinite(xs).all():
        return out
    return [x if math.isfinite(x) else None for x in out]


@router.get("/plant", summary="Plant name and ISA-95 tree with rolled-up health")
async def plant(c: ServerContext = Depends(ctx)) -> JSONResponse:
    return JSONResponse(
        {"plant": c.twin.plant.name, "tree": c.twin.tree(), "public_url": c.public_url}
    )


@router.get("/snapshot", summary="The whole twin: tree, every asset, annunciated alarms")
async def snapshot(c: ServerContext = Depends(ctx)) -> JSONResponse:
    return JSONResponse(c.twin.snapshot())


@router.get("/assets", summary="Every asset with its live state")
async def assets(c: ServerContext = Depends(ctx)) -> JSONResponse:
    return JSONResponse([c.twin.asset(p).to_dict() for p in c.twin.asset_paths()])


@router.get("/assets/{path:path}/timeline", summary="Recent events of an asset, newest first")
async def asset_timeline(
    path: str, limit: int = Query(100, ge=1, le=5000), c: ServerContext = Depends(ctx)
) -> JSONResponse:
    c.twin.asset(path)  # 404 for unknown assets
    return JSONResponse(c.twin.timeline(path, limit))


@router.get(
    "/assets/{path:path}", summary="One asset: signals, health and reason, RUL, alarms, sources"
)
async def asset(path: str, c: ServerContext = Depends(ctx)) -> JSONResponse:
    return JSONResponse(c.twin.asset(path).to_dict())


@router.get("/signals", summary="Known signal ids (configured, live and stored)")
def signals(c: ServerContext = Depends(ctx)) -> JSONResponse:
    ids = set(c.twin.signal_ids())
    if c.store is not None:
        ids |= set(c.store.signals())
    return JSONResponse(sorted(ids))


@router.get(
    "/latest", summary="Latest value, quality and timestamp of signals (from the live twin)"
)
async def latest(
    ids: str | None = Query(None, description="comma-separated signal ids; all when omitted"),
    asset: str | None = Query(None, description="only the signals of this asset"),
    c: ServerContext = Depends(ctx),
) -> JSONResponse:
    twin = c.twin
    if asset is not None:
        return JSONResponse({k: v.to_dict() for k, v in twin.asset(asset).signals.items()})
    wanted = None if ids is None else [s for s in ids.split(",") if s]
    values = twin.latest(wanted)
    if wanted is not None and not values:
        raise HTTPException(
            404, f"none of the signals {wanted} has a live value; list ids with GET /api/signals"
        )
    return JSONResponse({k: v.to_dict() for k, v in values.items()})


@router.get(
    "/signals/{signal_id:path}/samples", summary="Raw samples of one signal in [start, end)"
)
def samples(
    signal_id: str,
    start: str | None = Query(
        None, description="epoch ns, ISO 8601, or a duration before now like 1h"
    ),
    end: str | None = Query(None),
    limit: int = Query(100_000, ge=1, le=MAX_SAMPLES),
    store: Any = Depends(require_store),
) -> JSONResponse:
    t = store.read_samples(signal_id, time_param(start, "start"), time_param(end, "end"))
    if t.num_rows > limit:
        raise HTTPException(
            400,
            f"{t.num_rows} samples in range, more than limit={limit}; narrow start/end, raise limit "
            f"(max {MAX_SAMPLES}) or use /api/signals/{signal_id}/downsample",
        )
    ts = t.column("ts").cast(pa.int64()).to_numpy()
    return JSONResponse(
        {
            "signal": signal_id,
            "t": (ts / 1e9).tolist(),
            "value": _clean(t.column("value").to_numpy(zero_copy_only=False)),
            "quality": t.column("quality").to_numpy().tolist(),
        }
    )


@router.get(
    "/signals/{signal_id:path}/downsample", summary="min/max/avg/last per time bucket, for charts"
)
def downsample(
    signal_id: str,
    start: str | None = Query(
        None, description="epoch ns, ISO 8601, or a duration before now; default end - window"
    ),
    end: str | None = Query(None, description="default: the signal's latest sample"),
    window: str = Query("1h", description="span when start is omitted (90s, 15m, 1h, 7d)"),
    points: int = Query(1000, ge=10, le=20_000, description="buckets across the range"),
    store: Any = Depends(require_store),
    c: ServerContext = Depends(ctx),
) -> JSONResponse:
    t0 = time.perf_counter()
    hi = time_param(end, "end")
    if hi is None:
        live = c.twin.latest([signal_id]).get(signal_id)
        if live is not None:
            hi = live.ts_ns + 1
        else:
            last = store.latest(signal_id)
            if last.num_rows == 0:
                raise HTTPException(
                    404, f"signal {signal_id!r} has no samples; list ids with GET /api/signals"
                )
            hi = int(last.column("ts").cast(pa.int64())[0].as_py()) + 1
    lo = time_param(start, "start")
    if lo is None:
        from edgetwin.store.timeutil import parse_duration_s

        try:
            lo = hi - int(parse_duration_s(window) * 1e9)
        except Exception as exc:
            raise HTTPException(400, f"query parameter 'window': {exc}") from None
    if hi <= lo:
        raise HTTPException(400, f"end ({hi}) must be after start ({lo}); swap or widen them")
    every_s = max((hi - lo) / points / 1e9, 1e-6)
    d = store.downsample(signal_id, every_s, lo, hi)
    ts = d.column("ts").cast(pa.int64()).to_numpy()
    body = {
        "signal": signal_id,
        "every_s": every_s,
        "start_ns": lo,
        "end_ns": hi,
        "t": (ts / 1e9).tolist(),
        **{
            k: _clean(d.column(k).to_numpy(zero_copy_only=False))
            for k in ("min", "max", "avg", "last")
        },
        "n": d.column("n").to_numpy().tolist(),
    }
    server_ms = (time.perf_counter() - t0) * 1e3
    return JSONResponse(body, headers={"Server-Timing": f"query;dur={server_ms:.1f}"})


@router.get(
    "/inspection-image",
    summary="An overlay image named by a recent inspection event (PNG/JPEG)",
    response_class=FileResponse,
)
async def inspection_image(path: str, c: ServerContext = Depends(ctx)) -> FileResponse:
    if path not in c.twin.inspection_images():
        raise HTTPException(
            404, "no recent inspection event names this image; list events with kind=inspection"
        )
    p = Path(path)
    if not p.is_file():
        raise HTTPException(404, f"inspection image {path} is gone from disk")
    return FileResponse(p)


@router.get("/events", summary="Stored events, newest last (filters: source, kind, start, end)")
def events(
    source: str | None = None,
    kind: str | None = None,
    start: str | None = Query(None),
    end: str | None = Query(None),
    limit: int = Query(1000, ge=1, le=100_000),
    store: Any = Depends(require_store),
) -> JSONResponse:
    t = store.read_events(source, time_param(start, "start"), time_param(end, "end"), kind)
    if t.num_rows > limit:
        t = t.slice(t.num_rows - limit)
    ts = t.column("ts").cast(pa.int64()).to_pylist()
    rows = [
        {
            "ts_ns": ts[i],
            "source": s,
            "kind": k,
            "severity": sev,
            "payload": json.loads(p) if p else None,
        }
        for i, (s, k, sev, p) in enumerate(
            zip(
                *(t.column(n).to_pylist() for n in ("source", "kind", "severity", "payload")),
                strict=True,
            )
        )
    ]
    return JSONResponse(rows)


@router.get(
    "/stream",
    summary="Server-sent events: a snapshot, then coalesced changes (asset, tree, alarm, event, work_order)",
    response_class=StreamingResponse,
)
async def stream(
    request: Request, interval_s: float = Query(0.25, ge=0.05, le=5.0)
) -> StreamingResponse:
    c = context_of(request)
    sub = c.twin.changes(maxsize=2000)

    async def gen() -> AsyncIterator[str]:
        try:
            yield _sse("snapshot", c.twin.snapshot())
            last_beat = time.monotonic()
            while not await request.is_disconnected():
                await asyncio.sleep(interval_s)
                batch = _coalesce(sub.queue)
                for change in batch:
                    yield _sse(change["type"], change)
                if not batch and time.monotonic() - last_beat > 15:
                    yield ": keep-alive\n\n"
                    last_beat = time.monotonic()
                elif batch:
                    last_beat = time.monotonic()
        finally:
            sub.close()

    return StreamingResponse(
        gen(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def _coalesce(queue: asyncio.Queue[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drain the queue; keep only the newest state per asset and the newest tree."""
    assets: dict[str, dict[str, Any]] = {}
    tree: dict[str, Any] | None = None
    rest: list[dict[str, Any]] = []
    while not queue.empty():
        change = queue.get_nowait()
        if change["type"] == "asset":
            assets[change["path"]] = change
        elif change["type"] == "tree":
            tree = change
        else:
            rest.append(change)
    return rest + list(assets.values()) + ([tree] if tree else [])


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=_json_default)}\n\n"


def _json_default(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return str(x)
