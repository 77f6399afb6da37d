"""The runtime with real DuckDB files: backpressure, restarts with back-off, flush on shutdown."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from edgetwin.core import make_samples
from edgetwin.runtime.interfaces import Emit
from edgetwin.runtime.pipeline import Pipeline
from edgetwin.runtime.supervisor import supervise
from edgetwin.store import open_store

T0 = 1_700_000_040 * 10**9


class CountingSource:
    """Emits `batches` batches of `rows` samples as fast as the pipeline takes them."""

    def __init__(self, batches: int, rows: int = 1000, name: str = "fast") -> None:
        self.name = name
        self.batches = batches
        self.rows = rows
        self.emitted = 0

    async def run(self, emit: Emit) -> None:
        for i in range(self.batches):
            ts = T0 + (i * self.rows + np.arange(self.rows, dtype=np.int64)) * 10**6
            await emit(make_samples(ts, "a/p/x", np.full(self.rows, float(i))))
            self.emitted += 1


class SlowStore:
    """A store that takes 20 ms per append: the consumer is the bottleneck."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.appends = 0

    def append(self, table: pa.Table) -> int:
        time.sleep(0.02)
        self.appends += 1
        return self.inner.append(table)  # type: ignore[attr-defined, no-any-return]

    def flush(self) -> None:
        self.inner.flush()  # type: ignore[attr-defined]


def test_backpressure_keeps_queue_bounded(tmp_path: Path) -> None:
    store = open_store(tmp_path / "bp.duckdb")
    slow = SlowStore(store)
    source = CountingSource(batches=40)

    async def main() -> int:
        pipe = Pipeline([source], slow, queue_size=4)  # type: ignore[arg-type]
        await pipe.start()
        await asyncio.sleep(0.3)
        in_flight = source.emitted - slow.appends  # the source cannot run ahead of the store
        await pipe.wait_sources()
        await pipe.stop()
        assert pipe.stats.queue_high_water <= 4
        return in_flight

    in_flight = asyncio.run(main())
    assert in_flight <= 4 + 2  # queue + the one being stored + the one being emitted
    assert store.count() == 40 * 1000
    store.close()


def test_shutdown_flushes_everything_emitted(tmp_path: Path) -> None:
    path = tmp_path / "flush.duckdb"
    store = open_store(path)
    source = CountingSource(batches=10_000, rows=100)

    async def main() -> int:
        pipe = Pipeline([source], store, queue_size=16)
        await pipe.start()
        await asyncio.sleep(0.5)
        await pipe.stop()  # cancels the source mid-stream, drains the queue
        return source.emitted

    emitted = asyncio.run(main())
    store.close()
    assert 0 < emitted < 10_000
    with open_store(path) as reopened:
        assert reopened.count() == emitted * 100


class FlakySource:
    """Fails twice, then delivers one batch: the supervisor must restart it with back-off."""

    name = "flaky"

    def __init__(self) -> None:
        self.attempts: list[float] = []

    async def run(self, emit: Emit) -> None:
        self.attempts.append(time.monotonic())
        if len(self.attempts) <= 2:
            raise ConnectionError("server unreachable")
        await emit(make_samples(np.array([T0]), "a/p/x", [1.0]))


def test_supervisor_restarts_with_exponential_backoff() -> None:
    source = FlakySource()
    received: list[pa.Table] = []
    states: list[str] = []

    async def emit(t: pa.Table) -> None:
        received.append(t)

    health = asyncio.run(
        supervise(
            source,
            emit,
            min_backoff_s=0.05,
            max_backoff_s=1.0,
            on_state=lambda name, state, detail: states.append(state),
        )
    )
    gaps = np.diff(source.attempts)
    assert len(source.attempts) == 3 and len(received) == 1
    assert health.restarts == 2 and health.state == "finished"
    assert "ConnectionError" in health.last_error
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # doubled
    assert states == ["up", "down", "up", "down", "up", "finished"]


def test_supervisor_gives_up_after_max_restarts() -> None:
    class Dead:
        name = "dead"

        async def run(self, emit: Emit) -> None:
            raise OSError("no route")

    async def emit(t: pa.Table) -> None:  # pragma: no cover - never called
        pass

    health = asyncio.run(supervise(Dead(), emit, min_backoff_s=0.01, max_restarts=3))
    assert health.state == "down" and health.restarts == 4


def test_failing_listener_loses_no_stored_data(tmp_path: Path) -> None:
    store = open_store(tmp_path / "l.duckdb")

    def broken(table: pa.Table) -> None:
        raise RuntimeError("view crashed")

    async def main() -> None:
        pipe = Pipeline([CountingSource(batches=5)], store)
        pipe.add_listener(broken)
        await pipe.start()
        await pipe.wait_sources()
        await pipe.stop()

    asyncio.run(main())
    assert store.count() == 5 * 1000
    store.close()


def test_failing_monitor_costs_only_its_own_outputs(tmp_path: Path) -> None:
    store = open_store(tmp_path / "m.duckdb")

    class Broken:
        name = "broken"

        def process(self, table: pa.Table) -> list[pa.Table]:
            raise ValueError("model input has the wrong shape")

    class Echo:
        name = "echo"

        def process(self, table: pa.Table) -> list[pa.Table]:
            ts = table.column("ts").cast(pa.int64()).to_numpy()[-1:]
            return [make_samples(ts, "a/p/derived", [1.0])]

    async def main() -> Pipeline:
        pipe = Pipeline([CountingSource(batches=5)], store, monitors=[Broken(), Echo()])  # type: ignore[list-item]
        await pipe.start()
        await pipe.wait_sources()
        await pipe.stop()
        return pipe

    pipe = asyncio.run(main())
    assert pipe.monitor_errors == {"broken": 5}
    assert store.read_samples("a/p/derived").num_rows == 5  # the healthy monitor's outputs kept
    assert store.count() == 5 * 1000 + 5
    store.close()
