"""The simulated plant over the real protocol: an OPC UA server steps the simulator, and the
runtime ingests it through its own OPC UA client — what `edgetwin demo` does by default.

Scalar signals travel over OPC UA (subscriptions, history, reconnects: the production path);
12 kHz vibration bursts go in-process through the server's waveform tap, as a condition
monitoring system would deliver them beside the PLC. The source ends once the simulator has
covered `duration_s` of plant time and the last notifications have arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from edgetwin.core.config import PlantConfig
from edgetwin.runtime.interfaces import Emit

log = logging.getLogger(__name__)


class OpcUaPlantSource:
    """Serve `sim` over OPC UA on 127.0.0.1:`port` and ingest it back through our OPC UA source."""

    def __init__(
        self,
        plant: PlantConfig,
        sim: Any,
        *,
        port: int,
        speed: float,
        duration_s: float,
        name: str = "opcua-sim",
        on_state: Callable[[str, str, str], None] | None = None,
        drain_s: float = 2.0,
    ) -> None:
        if speed <= 0:
            raise ValueError("the OPC UA plant runs in paced time: give speed > 0")
        self.name = name
        self.plant = plant
        self.sim = sim
        self.port = port
        self.speed = speed
        self.duration_s = duration_s
        self.on_state = on_state
        self.drain_s = drain_s
        self.endpoint = ""

    @property
    def elapsed_s(self) -> float:
        return float(self.sim.now_ns - self.sim.start_ns) / 1e9

    async def run(self, emit: Emit) -> None:
        from edgetwin.connect.opcua import opcua_source_config_for, serve_plant
        from edgetwin.runtime.build import build_source

        handle = await serve_plant(
            self.plant, self.sim, "127.0.0.1", self.port, speed=self.speed, step_s=1.0
        )
        self.endpoint = handle.endpoint
        client = build_source(
            opcua_source_config_for(self.plant, handle.endpoint, speed=self.speed), self.plant
        )
        if self.on_state is not None and hasattr(client, "on_state"):
            client.on_state = self.on_state
        waves = handle.server.waveform_source()
        tasks = [asyncio.create_task(client.run(emit)), asyncio.create_task(waves.run(emit))]
        try:
            while self.elapsed_s < self.duration_s:
                done = [t for t in tasks if t.done()]
                if done:
                    done[0].result()  # a failed client or tap: raise, the supervisor restarts
                await asyncio.sleep(0.2)
            await handle.server.stop_stepping()
            await asyncio.sleep(self.drain_s)  # the last publish cycle reaches the store
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await handle.stop()
