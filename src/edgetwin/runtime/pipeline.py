"""The running plant: sources feed one bounded queue; one consumer stores, analyses, updates.

Why one consumer: DuckDB takes one writer, the twin is cheaper to update without locks, and
ordering per source is preserved. Why a bounded queue: when storage or analytics fall behind,
`emit` blocks the source instead of letting memory grow — backpressure, measured by
`queue_high_water`. Store appends run in a worker thread (DuckDB releases the GIL), so the
event loop keeps serving protocols and the dashboard while a batch is written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from edgetwin.runtime.interfaces import Monitor, Sink, Source
from edgetwin.runtime.supervisor import SourceHealth, supervise
from edgetwin.store.base import Store

log = logging.getLogger(__name__)


@dataclass
class PipelineStats:
    batches: int = 0
    samples: int = 0
    waveforms: int = 0
    waveform_values: int = 0
    events: int = 0
    derived_samples: int = 0
    queue_high_water: int = 0
    started_at: float = field(default_factory=time.monotonic)
    busy_s: float = 0.0

    def rate(self) -> float:
        """Samples (scalar + waveform values) per second of wall time since start."""
        elapsed = max(time.monotonic() - self.started_at, 1e-9)
        return (self.samples + self.waveform_values) / elapsed


class Pipeline:
    """sources → queue → store → monitors → twin → sinks, with supervision and clean shutdown."""

    def __init__(
        self,
        sources: Sequence[Source],
        store: Store,
        *,
        monitors: Sequence[Monitor] = (),
        sinks: Sequence[Sink] = (),
        twin: Any = None,
        queue_size: int = 64,
        on_source_state: Callable[[str, str, str], None] | None = None,
        store_in_thread: bool = True,
    ) -> None:
        self.sources = list(sources)
        self.store = store
        self.monitors = list(monitors)
        self.sinks = list(sinks)
        self.twin = twin
        self.queue: asyncio.Queue[pa.Table | None] = asyncio.Queue(maxsize=queue_size)
        self.stats = PipelineStats()
        self.source_health: dict[str, SourceHealth] = {s.name: SourceHealth() for s in self.sources}
        self._on_source_state = on_source_state
        self._store_in_thread = store_in_thread
        self._source_tasks: list[asyncio.Task[SourceHealth]] = []
        self._consumer: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[pa.Table], None]] = []
        self.monitor_errors: dict[str, int] = {}

    def add_listener(self, fn: Callable[[pa.Table], None]) -> None:
        """Call `fn` with every stored and derived table (used by the CLI's live view)."""
        self._listeners.append(fn)

    async def emit(self, table: pa.Table) -> None:
        """What sources call: waits while the queue is full (backpressure)."""
        await self.queue.put(table)
        depth = self.queue.qsize()
        if depth > self.stats.queue_high_water:
            self.stats.queue_high_water = depth

    def _state(self, name: str, state: str, detail: str) -> None:
        if self.twin is not None and hasattr(self.twin, "set_source_state"):
            self.twin.set_source_state(name, state, detail)
        if self._on_source_state:
            self._on_source_state(name, state, detail)

    async def start(self) -> None:
        for sink in self.sinks:
            await sink.start()
        self.stats = PipelineStats()
        self._consumer = asyncio.create_task(self._consume(), name="pipeline-consumer")
        for source in self.sources:
            task = asyncio.create_task(
                supervise(
                    source, self.emit, on_state=self._state, health=self.source_health[source.name]
                ),
                name=f"source-{source.name}",
            )
            self._source_tasks.append(task)

    async def wait_sources(self) -> None:
        """Return when every source has finished (replay, bounded sim) — not for live protocols."""
        if self._source_tasks:
            await asyncio.gather(*self._source_tasks, return_exceptions=True)

    async def stop(self) -> None:
        """Graceful shutdown: stop sources, drain what they already emitted, flush, stop sinks."""
        for task in self._source_tasks:
            task.cancel()
        await asyncio.gather(*self._source_tasks, return_exceptions=True)
        if self._consumer is not None:
            await self.queue.put(None)
            await self._consumer
            self._consumer = None
        for table in self._flush_monitors():
            await self._deliver(table)
        await asyncio.to_thread(self.store.flush)
        for sink in self.sinks:
            try:
                await sink.stop()
            except Exception:  # noqa: BLE001 - one broken sink must not stop the others
                log.exception("sink %s failed to stop", sink.name)
        log.info(
            "pipeline stopped: %d samples, %d waveform bursts, %d events, %d derived samples",
            self.stats.samples,
            self.stats.waveforms,
            self.stats.events,
            self.stats.derived_samples,
        )

    def _flush_monitors(self) -> list[pa.Table]:
        out: list[pa.Table] = []
        for monitor in self.monitors:
            flush = getattr(monitor, "flush", None)
            if flush is not None:
                out.extend(flush())
        return out

    async def _consume(self) -> None:
        while True:
            table = await self.queue.get()
            if table is None:
                return
            t0 = time.perf_counter()
            try:
                await self._handle(table)
            except Exception:  # noqa: BLE001 - a bad batch is logged, the pipeline goes on
                log.exception("batch of %d rows could not be processed", table.num_rows)
            self.stats.busy_s += time.perf_counter() - t0

    async def _store(self, table: pa.Table) -> None:
        if self._store_in_thread:
            await asyncio.to_thread(self.store.append, table)
        else:
            self.store.append(table)

    async def _handle(self, table: pa.Table) -> None:
        self.stats.batches += 1
        names = table.column_names
        if "values" in names:
            self.stats.waveforms += table.num_rows
            self.stats.waveform_values += len(table.column("values").combine_chunks().values)
        elif "value" in names:
            self.stats.samples += table.num_rows
        else:
            self.stats.events += table.num_rows
        store_task = asyncio.create_task(self._store(table))
        derived: list[pa.Table] = []
        for monitor in self.monitors:
            derived.extend(self._run_monitor(monitor, table))
        await self._publish(table)
        await store_task
        for d in derived:
            await self._deliver(d)

    def _run_monitor(self, monitor: Monitor, table: pa.Table) -> list[pa.Table]:
        """One monitor's outputs; a failing monitor costs only its own, and logs without flooding."""
        try:
            return monitor.process(table)
        except Exception:  # noqa: BLE001 - analytics must never stop ingest
            n = self.monitor_errors.get(monitor.name, 0) + 1
            self.monitor_errors[monitor.name] = n
            if n == 1 or n % 100 == 0:
                log.exception("monitor %s failed (%d failures so far)", monitor.name, n)
            return []

    async def _deliver(self, table: pa.Table) -> None:
        """Store and publish a table the pipeline itself produced (monitor outputs)."""
        if "value" in table.column_names:
            self.stats.derived_samples += table.num_rows
        else:
            self.stats.events += table.num_rows
        await self._store(table)
        await self._publish(table)

    async def _publish(self, table: pa.Table) -> None:
        alarms = None
        if self.twin is not None and "values" not in table.column_names:
            # the twin evaluates ISA-18.2 alarms on what it ingests; their events are history too
            alarms = self.twin.ingest(table)
        await self._fan_out(table)
        if alarms is not None and alarms.num_rows:
            self.stats.events += alarms.num_rows
            await self._store(alarms)
            await self._fan_out(alarms)

    async def _fan_out(self, table: pa.Table) -> None:
        for fn in self._listeners:
            try:
                fn(table)
            except Exception:  # noqa: BLE001 - a broken view must not cost stored data
                log.exception("listener %r failed on a batch of %d rows", fn, table.num_rows)
        if "values" in table.column_names:
            return  # sinks take scalar samples and events; bursts stay in the store
        for sink in self.sinks:
            try:
                await sink.write(table)
            except Exception:  # noqa: BLE001 - a failing sink is logged, data is already stored
                log.exception("sink %s failed to take a batch", sink.name)
