"""Operator side of the REST API: alarms (acknowledge, shelve, ...), work orders, what-if.

Every call that changes something needs a token (`require_token`); the token's name is the
user recorded in the alarm's event and the work order.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from edgetwin.server.context import ServerContext, ctx, require_token

router = APIRouter(prefix="/api", tags=["operations"])


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(
        default="", max_length=2000, description="why (kept with the alarm's event)"
    )


class Shelve(Comment):
    duration_s: float | None = Field(
        default=None,
        gt=0,
        le=7 * 86400,
        description="seconds; omit for a one-shot shelve (until the alarm clears)",
    )


class Toggle(Comment):
    on: bool = Field(
        default=True, description="true to suppress / take out of service, false to restore"
    )


class NewWorkOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    asset: str = Field(..., description="asset path, e.g. site/line1/pump1")
    title: str = Field(
        default="", max_length=500, description="what needs doing; default: the alarm's message"
    )
    alarm_id: str | None = Field(default=None, description="the alarm it was opened from")


class CloseWorkOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(..., min_length=1, max_length=5000, description="what was done")


class WhatIf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    load_profile: Any = Field(
        ..., description="load profile as the asset's simulation model takes it"
    )
    seed: int = Field(default=0, ge=0)


@router.get(
    "/whoami", summary="The name of the token sent (checks a token without changing anything)"
)
async def whoami(user: str = Depends(require_token)) -> dict[str, str]:
    return {"user": user}


@router.get("/alarms", summary="Annunciated alarms (all configured and model alarms with all=true)")
async def alarms(
    all: bool = False, asset: str | None = None, c: ServerContext = Depends(ctx)
) -> JSONResponse:
    items = c.twin.alarms.all() if all else c.twin.alarms.active()
    out = [a.to_dict() for a in items]
    if asset:
        out = [
            a
            for a in out
            if a["source"] == asset or a["source"].startswith(asset.rstrip("/") + "/")
        ]
    return JSONResponse(sorted(out, key=lambda a: (-a["severity"], -a["ts_ns"])))


@router.get("/alarms/{alarm_id:path}/state", summary="One alarm")
async def alarm(alarm_id: str, c: ServerContext = Depends(ctx)) -> JSONResponse:
    return JSONResponse(c.twin.alarms.get(alarm_id).to_dict())


@router.post("/alarms/{alarm_id:path}/acknowledge", summary="Acknowledge an unacknowledged alarm")
async def acknowledge(
    alarm_id: str,
    body: Comment | None = None,
    user: str = Depends(require_token),
    c: ServerContext = Depends(ctx),
) -> JSONResponse:
    out = c.twin.acknowledge(alarm_id, user, (body or Comment()).comment)
    await c.settle()
    return JSONResponse(out)


@router.post(
    "/alarms/{alarm_id:path}/shelve", summary="Shelve (timed with duration_s, else one-shot)"
)
async def shelve(
    alarm_id: str,
    body: Shelve | None = None,
    user: str = Depends(require_token),
    c: ServerContext = Depends(ctx),
) -> JSONResponse:
    b = body or Shelve()
    out = c.twin.shelve(alarm_id, user, b.duration_s, b.comment)
    await c.settle()
    return JSONResponse(out)


@router.post("/alarms/{alarm_id:path}/unshelve", summary="Return a shelved alarm to service")
async def unshelve(
    alarm_id: str,
    body: Comment | None = None,
    user: str = Depends(require_token),
    c: ServerContext = Depends(ctx),
) -> JSONResponse:
    out = c.twin.unshelve(alarm_id, user, (body or Comment()).comment)
    await c.settle()
    return JSONResponse(out)


@router.post("/alarms/{alarm_id:path}/suppress", summary="Suppress by design (on=false to release)")
async def suppress(
    alarm_id: str,
    body: Toggle | None = None,
    user: str = Depends(require_token),
    c: ServerContext = Depends(ctx),
) -> JSONResponse:
    out = c.twin.suppress(alarm_id, (body or Toggle()).on, user)
    await c.settle()
    return JSONResponse(out)


@router.post(
    "/alarms/{alarm_id:path}/out-of-service", summary="Take out of service (on=false to restore)"
)
async def out_of_service(
    alarm_id: str,
    body: Toggle | None = None,
    user: str = Depends(require_token),
    c: ServerContext = Depends(ctx),
) -> JSONResponse:
    b = body or Toggle()
    out = c.twin.set_out_of_service(alarm_id, b.on, user, b.comment)
    await c.settle()
    return JSONResponse(out)


@router.get("/work-orders", summary="Work orders, newest first (asset matches its subtree)")
async def work_orders(
    asset: str | None = None,
    status: str | None = Query(None, pattern="^(open|closed)$"),
    c: ServerContext = Depends(ctx),
) -> JSONResponse:
    return JSONResponse([w.to_dict() for w in c.twin.work_orders.list(asset, status)])


@router.post(
    "/work-orders", status_code=201, summary="Open a work order (optionally from an alarm)"
)
async def open_work_order(
    body: NewWorkOrder, user: str = Depends(require_token), c: ServerContext = Depends(ctx)
) -> JSONResponse:
    wo = c.twin.open_work_order(body.asset, body.title, from_alarm=body.alarm_id, user=user)
    await c.settle()
    return JSONResponse(wo.to_dict(), status_code=201)


@router.post("/work-orders/{wid}/close", summary="Close a work order with a note")
async def close_work_order(
    wid: int,
    body: CloseWorkOrder,
    user: str = Depends(require_token),
    c: ServerContext = Depends(ctx),
) -> JSONResponse:
    out = c.twin.close_work_order(wid, body.note, user=user).to_dict()
    await c.settle()
    return JSONResponse(out)


@router.post(
    "/assets/{path:path}/what-if", summary="Simulate the asset forward under a load profile"
)
async def what_if(
    path: str, body: WhatIf, user: str = Depends(require_token), c: ServerContext = Depends(ctx)
) -> JSONResponse:
    return JSONResponse(c.twin.what_if(path, body.load_profile, body.seed))
