"""The seams between the runtime and the rooms it wires: sources, sinks, monitors.

Every stage exchanges Arrow tables in one of the three core schemas (samples, waveforms,
events). `emit` is awaited: when the runtime's bounded queue is full, the source is suspended,
which is how backpressure reaches a protocol client without any extra machinery.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

import pyarrow as pa

Emit = Callable[[pa.Table], Awaitable[None]]


@runtime_checkable
class Source(Protocol):
    """Delivers batches until cancelled; raising makes the supervisor restart it with back-off."""

    name: str

    async def run(self, emit: Emit) -> None:
        """Connect, then `await emit(table)` for every batch; return only when the data ends."""
        ...


@runtime_checkable
class Sink(Protocol):
    """Receives every stored batch plus derived samples and events (OPC UA server, MQTT, web)."""

    name: str

    async def start(self) -> None: ...

    async def write(self, table: pa.Table) -> None:
        """Take one samples or events table; must not block the pipeline for long."""
        ...

    async def stop(self) -> None: ...


@runtime_checkable
class Monitor(Protocol):
    """An online analytic: takes a batch, returns derived samples and events (possibly empty)."""

    name: str

    def process(self, table: pa.Table) -> list[pa.Table]: ...
