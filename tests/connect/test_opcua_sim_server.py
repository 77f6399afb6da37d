"""The demo path: the simulated plant served over OPC UA and ingested through OpcUaSource
gives exactly the simulator's own values (scalars over the protocol, bursts in-process)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from edgetwin.connect.opcua import OpcUaSource, opcua_source_config_for, serve_plant
from edgetwin.core.config import load_plant
from edgetwin.sim import PlantSimulator

DEMO = Path(__file__).resolve().parents[2] / "src" / "edgetwin" / "sim" / "plants" / "demo.yaml"
START = 1_790_000_000 * 10**9


def test_served_plant_matches_the_simulator_through_the_protocol(
    free_tcp_port: Callable[[], int],
) -> None:
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)
    plant = load_plant(DEMO)

    async def scenario() -> tuple[list[pa.Table], list[pa.Table], float]:
        handle = await serve_plant(
            plant,
            PlantSimulator(plant, seed=7, start_ns=START),
            port=free_tcp_port(),
            speed=30.0,
            step_s=0.5,
        )
        waves = handle.server.waveform_source()
        cfg = opcua_source_config_for(plant, handle.endpoint, speed=30.0)
        src = OpcUaSource.from_config(cfg, plant)
        scalars: list[pa.Table] = []
        bursts: list[pa.Table] = []

        async def emit_s(t: pa.Table) -> None:
            scalars.append(t)

        async def emit_w(t: pa.Table) -> None:
            bursts.append(t)

        tasks = [asyncio.create_task(src.run(emit_s)), asyncio.create_task(waves.run(emit_w))]
        try:
            for _ in range(150):
                await asyncio.sleep(0.1)
                if bursts and sum(t.num_rows for t in scalars) > 2000:
                    break
            await handle.server.stop_stepping()
            await asyncio.sleep(1.0)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await handle.stop()
        return scalars, bursts, handle.server.sim.elapsed_s  # type: ignore[union-attr]

    scalars, bursts, elapsed = asyncio.run(scenario())
    got = pa.concat_tables(scalars)
    ref_tables = PlantSimulator(plant, seed=7, start_ns=START).step(elapsed)
    ref = next(t for t in ref_tables if "value" in t.column_names)
    want = dict(
        zip(
            zip(ref["signal"].to_pylist(), ref["ts"].cast(pa.int64()).to_pylist(), strict=True),
            ref["value"].to_pylist(),
            strict=True,
        )
    )
    keys = list(zip(got["signal"].to_pylist(), got["ts"].cast(pa.int64()).to_pylist(), strict=True))
    assert len(keys) > 2000
    for key, value in zip(keys, got["value"].to_pylist(), strict=True):
        assert value == pytest.approx(want[key], rel=1e-12)
    # every signal, every sample after its first delivery: nothing dropped between publishes
    first: dict[str, int] = {}
    for s, t in keys:
        first[s] = min(first.get(s, t), t)
    last_ts = max(t for _, t in keys)
    expected = {k for k in want if k[0] in first and first[k[0]] <= k[1] <= last_ts - 2 * 10**9}
    assert expected <= set(keys)
    simulated = {
        a.signal_id(s.name)
        for a in plant.assets
        if a.model
        for s in a.signals
        if s.kind == "scalar"
    }
    assert set(first) == simulated  # every simulated scalar signal came through
    wf = pa.concat_tables(bursts)
    assert wf.num_rows >= 1 and len(wf["values"][0]) == 12000
