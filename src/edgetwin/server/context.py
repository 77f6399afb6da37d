"""What every route needs: the twin, the history store, the token store, and the auth check."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request

from edgetwin.core.errors import DataError
from edgetwin.server.auth import TokenStore
from edgetwin.store.timeutil import to_ns
from edgetwin.twin import Twin


@dataclass
class ServerContext:
    twin: Twin
    store: Any  # edgetwin.store.Store or None
    tokens: TokenStore
    modules_dir: Path | None = None
    public_url: str = ""
    pending: list[asyncio.Future[Any]] = field(default_factory=list)

    async def settle(self) -> None:
        """Wait for the history writes an operator action started, so the reply implies stored."""
        futures, self.pending[:] = list(self.pending), []
        if futures:
            await asyncio.gather(*futures)


def context_of(request: Request) -> ServerContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


# Dependencies are `async def` so FastAPI resolves them in the event loop, not in its
# thread pool: a thread hop per request costs more than these lookups.
async def ctx(request: Request) -> ServerContext:
    return context_of(request)


async def require_store(request: Request) -> Any:
    store = context_of(request).store
    if store is None:
        raise HTTPException(
            503, "no history store is attached; start the server with --db edgetwin.duckdb"
        )
    return store


async def require_token(request: Request) -> str:
    """FastAPI dependency for every write: `Authorization: Bearer <token>`; returns the user name."""
    header = request.headers.get("authorization", "")
    token = (
        header[7:].strip()
        if header.lower().startswith("bearer ")
        else request.headers.get("x-edgetwin-token")
    )
    if not token:
        raise HTTPException(
            401,
            "this call changes the plant and needs a token: send 'Authorization: Bearer <token>'; "
            "create one with `edgetwin token create NAME`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = context_of(request).tokens.verify(token)
    if user is None:
        raise HTTPException(
            401,
            "token not recognised (revoked, mistyped, or from another EDGETWIN_HOME); "
            "create a new one with `edgetwin token create NAME`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


def time_param(value: str | None, name: str) -> int | None:
    """Query-string time bound: epoch ns digits, ISO 8601, or a duration before now ('1h')."""
    if value is None or value == "":
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        return to_ns(value)
    except DataError as exc:
        raise HTTPException(400, f"query parameter {name!r}: {exc}") from None
