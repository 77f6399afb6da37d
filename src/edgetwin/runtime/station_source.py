"""The demo's inspection station: simulated parts at a fixed takt, inspected by an edge module.

Parts come from `vision.synthetic.InspectionStation` (a few defective, with ground truth); each
is inspected by the exported module exactly as a camera frame would be, and the result is an
`inspection` event on the station's asset with the heatmap overlay stored. Pacing follows the
plant clock of the simulator, so parts and process data share one timeline.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from edgetwin.runtime.interfaces import Emit


class StationSource:
    """Inspect one simulated part every `takt_s` plant seconds for `duration_s`."""

    def __init__(
        self,
        station: Any,
        inspector: Any,
        *,
        name: str = "station",
        takt_s: float = 120.0,
        speed: float = 60.0,
        duration_s: float = 3600.0,
        start_ns: int | None = None,
    ) -> None:
        self.name = name
        self.station = station
        self.inspector = inspector
        self.takt_s = takt_s
        self.speed = speed
        self.duration_s = duration_s
        self.start_ns = start_ns if start_ns is not None else time.time_ns() // 10**9 * 10**9
        self.inspected = 0
        self.defective_truth = 0

    def _inspect(self, index: int) -> Any:
        part = self.station.part(index)
        ts_ns = self.start_ns + int((index + 1) * self.takt_s * 1e9)
        result = self.inspector.inspect(part.image, name=f"part-{index:05d}", ts_ns=ts_ns)
        self.defective_truth += int(part.label)
        return self.inspector.events([result])

    async def run(self, emit: Emit) -> None:
        wall0 = time.monotonic()
        n_parts = int(self.duration_s // self.takt_s)
        for index in range(self.inspected, n_parts):
            table = await asyncio.to_thread(self._inspect, index)
            self.inspected = index + 1
            await emit(table)
            if self.speed > 0:
                delay = wall0 + (index + 1) * self.takt_s / self.speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
