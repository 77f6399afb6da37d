"""The simulated plant as an OPC UA server with history (`edgetwin sim serve`, the demo).

`PlantServer` steps a `PlantSimulator` in real time (times `speed`) and writes every scalar
sample to its variable with the simulator's timestamp as SourceTimestamp, and into a history
store that outlives the network endpoint: `restart()` stops the server and brings up a fresh
one on the same port and storage, which is what a PLC or historian reboot looks like to a
client, and lets tests and the benchmark check that a reconnecting source loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
from asyncua import Server
from asyncua.server.binary_server_asyncio import BinaryServer
from asyncua.server.history import HistoryDict

from edgetwin.connect.opcua.address_space import PlantNodes, build_plant
from edgetwin.connect.opcua.server_security import ServerSecurity, apply_security
from edgetwin.connect.opcua.uatypes import data_value
from edgetwin.core.config import PlantConfig, SourceConfig

log = logging.getLogger(__name__)

SERVER_APP_URI = "urn:edgetwin:opcua:sim"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Stepper(Protocol):
    def step(self, dt_s: float) -> list[pa.Table]: ...


@dataclass
class ServerHandle:
    """What `serve_plant` returns: the endpoint to give clients, and how to stop."""

    server: PlantServer
    endpoint: str

    async def stop(self) -> None:
        await self.server.stop()


class PlantServer:
    """OPC UA server exposing a plant's scalar signals, fed by a simulator, with history.

    speed: plant seconds per wall second. step_s: wall seconds between simulator steps.
    history_count: values kept per signal (0: unbounded).
    """

    def __init__(
        self,
        plant: PlantConfig,
        sim: Stepper | None,
        host: str = "127.0.0.1",
        port: int = 4840,
        *,
        speed: float = 1.0,
        step_s: float = 1.0,
        security: ServerSecurity | None = None,
        history_count: int = 100_000,
    ) -> None:
        self.plant = plant
        self.sim = sim
        self.host = host
        self.port = port
        self.speed = speed
        self.step_s = step_s
        self.security = security or ServerSecurity()
        self.history = HistoryDict(max_history_data_response_size=10_000)
        self.history_count = history_count
        self.nodes: PlantNodes | None = None
        self.online = False
        self.written = 0
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._historized = False
        self._waves: asyncio.Queue[pa.Table] | None = None

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/edgetwin/"

    async def start(self) -> None:
        """Bring the endpoint up, then start stepping the simulator (if any)."""
        await self._up()
        if self.sim is not None and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="plant-server-sim")

    async def _up(self) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("edgetwin simulated plant")
        await server.set_application_uri(SERVER_APP_URI)
        await apply_security(server, self.security, SERVER_APP_URI, self.host)
        server.iserver.history_manager.set_storage(self.history)
        self.nodes = await build_plant(server, self.plant, historizing=True)
        if not self._historized:
            for var in self.nodes.variables.values():
                await self.history.new_historized_node(var.nodeid, None, self.history_count)
            self._historized = True
        await server.start()
        self._server = server
        self.online = True
        log.info(
            "OPC UA plant server on %s (%d variables)", self.endpoint, len(self.nodes.variables)
        )

    async def _down(self) -> None:
        self.online = False
        if self._server is not None:
            await self._server.stop()
            self._server = None

    async def restart(self, down_s: float = 1.0) -> None:
        """Drop every connection, session and subscription and close the port for `down_s`
        seconds, then listen again; the simulator keeps running into history meanwhile.

        The address space is kept (a full asyncua init takes seconds on a small box), so this
        is what a client sees when a PLC's server process restarts.
        """
        server = self._server
        assert server is not None and server.bserver is not None
        self.online = False
        await server.bserver.stop()
        subs = server.iserver.subscription_service
        ids = list(getattr(subs, "subscriptions", {}))
        if ids:
            await subs.delete_subscriptions(ids)
        await asyncio.sleep(down_s)
        server.bserver = BinaryServer(server.iserver, self.host, self.port, server.limits)
        server.bserver.set_policies(server._policies)
        await server.bserver.start()
        self.online = True
        log.info("OPC UA plant server %s back after %.1f s", self.endpoint, down_s)

    def waveform_source(self, name: str = "sim-waveforms", maxsize: int = 64) -> WaveformTap:
        """A runtime Source that delivers the simulator's waveform bursts (OPC UA carries the
        scalar signals only; bursts of 12,000 samples go in-process)."""
        self._waves = asyncio.Queue(maxsize=maxsize)
        return WaveformTap(name, self._waves)

    async def stop_stepping(self) -> None:
        """Stop the simulator (the endpoint stays up): the last values stay readable."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def stop(self) -> None:
        await self.stop_stepping()
        await self._down()

    async def _loop(self) -> None:
        assert self.sim is not None
        loop = asyncio.get_running_loop()
        next_t = loop.time()
        while True:
            next_t += self.step_s
            for table in self.sim.step(self.step_s * self.speed):
                if "value" in table.column_names:
                    await self.publish(table)
                elif self._waves is not None:
                    await self._waves.put(table)  # bounded: a slow pipeline slows the plant
            await asyncio.sleep(max(0.0, next_t - loop.time()))

    async def publish(self, table: pa.Table) -> int:
        """Write a samples table: every row to history, each signal's rows to its variable."""
        assert self.nodes is not None
        sig = table.column("signal").combine_chunks()
        dictionary = sig.dictionary.to_pylist()
        codes = sig.indices.to_numpy()
        ts = table.column("ts").cast(pa.int64()).to_numpy()
        values = table.column("value").to_numpy(zero_copy_only=False)
        quality = table.column("quality").to_numpy()
        order = np.lexsort((ts, codes))
        n = 0
        server = self._server if self.online else None
        for k in order.tolist():
            var = self.nodes.variables.get(dictionary[codes[k]])
            if var is None:
                continue
            t = _EPOCH + timedelta(microseconds=int(ts[k]) // 1000)
            code = {0xC0: 0, 0x40: 0x40000000}.get(int(quality[k]), 0x80000000)
            dv = data_value(float(values[k]), t, code)
            await self.history.save_node_value(var.nodeid, dv)
            if server is not None:
                await server.write_attribute_value(var.nodeid, dv)
            n += 1
        self.written += n
        return n


class WaveformTap:
    """Source of the waveform tables a PlantServer's simulator produced."""

    def __init__(self, name: str, queue: asyncio.Queue[pa.Table]) -> None:
        self.name = name
        self._queue = queue

    async def run(self, emit: Any) -> None:
        while True:
            await emit(await self._queue.get())


async def serve_plant(
    plant: PlantConfig,
    sim: Stepper | None,
    host: str = "127.0.0.1",
    port: int = 4840,
    **kwargs: Any,
) -> ServerHandle:
    """Start a `PlantServer` for `plant` fed by `sim` (a PlantSimulator); stop with `.stop()`."""
    server = PlantServer(plant, sim, host, port, **kwargs)
    await server.start()
    return ServerHandle(server, server.endpoint)


def opcua_source_config_for(
    plant: PlantConfig,
    endpoint: str,
    *,
    name: str = "opcua",
    speed: float = 1.0,
    publishing_interval_ms: float = 500.0,
    **options: Any,
) -> SourceConfig:
    """An `opcua` SourceConfig subscribing to every simulated scalar signal on a PlantServer.

    At `speed` > 1 a signal changes several times per wall second, so the items report every
    change (sampling interval 0) with a server queue deep enough for two publishing intervals;
    nothing is dropped between publishes.
    """
    nodes = {
        a.signal_id(s.name): f"ns=2;s={a.signal_id(s.name)}"
        for a in plant.assets
        if a.model
        for s in a.signals
        if s.kind == "scalar"
    }
    rate = max(
        (s.rate_hz for a in plant.assets for s in a.signals if s.kind == "scalar"), default=1.0
    )
    queue = max(10, int(2 * speed * rate * publishing_interval_ms / 1000.0) + 10)
    opts: dict[str, Any] = {
        "endpoint": endpoint,
        "nodes": nodes,
        "sampling_interval_ms": 0.0,
        "publishing_interval_ms": publishing_interval_ms,
        "queue_size": queue,
        **options,
    }
    return SourceConfig(name=name, kind="opcua", **opts)
