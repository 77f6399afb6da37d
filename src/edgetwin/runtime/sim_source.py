"""The simulated plant as a source: steps `sim.PlantSimulator` and paces it against the clock.

`speed` is plant seconds per wall second (60: an hour of plant time per minute); `speed <= 0`
runs flat out, which is how the benchmark and the test suite use it. Steps run in a worker
thread: the simulator is numpy-bound and releases the GIL, so on two cores it overlaps with
the DuckDB append of the previous step.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from edgetwin.core.config import PlantConfig
from edgetwin.runtime.interfaces import Emit


class SimSource:
    """Emit the simulator's samples and waveforms for `duration_s` of plant time."""

    def __init__(
        self,
        plant: PlantConfig,
        *,
        name: str = "sim",
        seed: int = 0,
        speed: float = 60.0,
        duration_s: float | None = None,
        step_s: float = 60.0,
        start_ns: int | None = None,
        simulator: Any = None,
    ) -> None:
        from edgetwin.sim import PlantSimulator

        self.name = name
        self.speed = speed
        self.duration_s = duration_s
        self.step_s = step_s
        # plant time 0 defaults to now (whole second) inside the simulator
        self.sim = simulator or PlantSimulator(plant, seed=seed, start_ns=start_ns)
        self.elapsed_s = 0.0

    async def run(self, emit: Emit) -> None:
        wall0 = time.monotonic()
        plant0 = self.elapsed_s
        while self.duration_s is None or self.elapsed_s < self.duration_s:
            dt = self.step_s
            if self.duration_s is not None:
                dt = min(dt, self.duration_s - self.elapsed_s)
            tables = await asyncio.to_thread(self.sim.step, dt)
            self.elapsed_s += dt
            for table in tables:
                if table.num_rows:
                    await emit(table)
            if self.speed > 0:
                due = wall0 + (self.elapsed_s - plant0) / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
