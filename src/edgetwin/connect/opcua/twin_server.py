"""TwinServer: the live twin as an OPC UA server (a runtime sink).

Address space: Objects / Plant / site / ... / asset with every scalar signal, the derived
signals (health, rul, rul_lo, rul_hi, anomaly_score, fault_prob) each with a `ProducedBy`
property naming the model module that last produced it, per asset `HealthIndex`,
`HealthStatus`, `HealthReason` (the twin's roll-up) and a `Model` object with the module's
metadata from its events; alarms are Part 9 conditions (see `conditions.py`).

The runtime calls `write(table)` with every stored samples/events batch; alarm transitions
arrive from the twin's AlarmManager (including acks made in the web UI), so OPC UA clients and
the dashboard always agree.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from asyncua import Server, ua
from asyncua.common.node import Node

from edgetwin.connect.opcua.address_space import PlantNodes, build_plant
from edgetwin.connect.opcua.conditions import AlarmActions, ConditionPublisher
from edgetwin.connect.opcua.server_security import ServerSecurity, apply_security
from edgetwin.connect.opcua.uatypes import data_value, nid
from edgetwin.core.config import DERIVED_SIGNALS
from edgetwin.core.schemas import EVENTS_SCHEMA, conform
from edgetwin.twin import Twin
from edgetwin.twin.lastvalue import last_per_signal

log = logging.getLogger(__name__)

TWIN_APP_URI = "urn:edgetwin:opcua:twin"


class TwinServer:
    """OPC UA server sink exposing a `Twin` (values, health, model metadata, alarms)."""

    def __init__(
        self,
        twin: Twin,
        host: str = "127.0.0.1",
        port: int = 4840,
        *,
        security: ServerSecurity | None = None,
        name: str = "opcua-server",
    ) -> None:
        self.name = name
        self.twin = twin
        self.host = host
        self.port = port
        self.security = security or ServerSecurity()
        self.server: Server | None = None
        self.nodes: PlantNodes | None = None
        self.conditions: ConditionPublisher | None = None
        self._asset_vars: dict[str, dict[str, Node]] = {}
        self._produced_by: dict[str, Node] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._alarm_queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._alarm_task: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/edgetwin/"

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"edgetwin twin {self.twin.plant.name}")
        await server.set_application_uri(TWIN_APP_URI)
        await apply_security(server, self.security, TWIN_APP_URI, self.host)
        self.nodes = await build_plant(server, self.twin.plant, extra_signals=DERIVED_SIGNALS)
        ns = self.nodes.ns
        for asset in self.twin.plant.assets:
            folder = self.nodes.folders[asset.path]
            vs: dict[str, Node] = {}
            for key, init in (("HealthIndex", 1.0), ("HealthStatus", "ok"), ("HealthReason", "")):
                vs[key] = await folder.add_variable(
                    nid(f"{asset.path}#{key}", ns), ua.QualifiedName(key, ns), init
                )
            model = await folder.add_object(
                nid(f"{asset.path}#Model", ns), ua.QualifiedName("Model", ns)
            )
            for key in ("Module", "LastDecision", "Metadata"):
                vs[f"Model.{key}"] = await model.add_property(
                    nid(f"{asset.path}#Model.{key}", ns), ua.QualifiedName(key, ns), ""
                )
            self._asset_vars[asset.path] = vs
            for d in DERIVED_SIGNALS:
                sid = asset.signal_id(d)
                self._produced_by[sid] = await self.nodes.variables[sid].add_property(
                    nid(f"{sid}#ProducedBy", ns), ua.QualifiedName("ProducedBy", ns), ""
                )
        self.conditions = ConditionPublisher(
            server,
            ns,
            AlarmActions(
                acknowledge=lambda a, u, c: self.twin.acknowledge(a, u, c),
                shelve=lambda a, u, d, c: self.twin.shelve(a, u, d, c),
                unshelve=lambda a, u, c: self.twin.unshelve(a, u, c),
            ),
            refresh=self.refresh,
        )
        await self.conditions.start()
        for alarm in self.twin.alarms.all():
            await self._condition(alarm.to_dict())
        await server.start()
        self.server = server
        self.twin.alarms.subscribe(self._on_alarm)
        self._alarm_task = asyncio.create_task(self._alarm_loop(), name="opcua-alarm-events")
        log.info(
            "OPC UA twin server on %s (%d variables)", self.endpoint, len(self.nodes.variables)
        )

    async def stop(self) -> None:
        if self._alarm_task is not None:
            self._alarm_task.cancel()
            try:
                await self._alarm_task
            except asyncio.CancelledError:
                pass
        if self.server is not None:
            await self.server.stop()
            self.server = None

    # -- alarms ---------------------------------------------------------------------------------

    def _on_alarm(self, payload: dict[str, Any]) -> None:
        """AlarmManager listener: may run in any thread; hand over to the server's loop."""
        if self._loop is None or self._loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._alarm_queue.put_nowait(dict(payload))
        else:
            self._loop.call_soon_threadsafe(self._alarm_queue.put_nowait, dict(payload))

    async def _alarm_loop(self) -> None:
        while True:
            payload = await self._alarm_queue.get()
            try:
                await self._condition(payload, fire=True)
            except Exception:  # one bad alarm must not stop the others
                log.exception("OPC UA alarm event failed for %s", payload.get("alarm_id"))

    async def _condition(self, alarm: dict[str, Any], fire: bool = False) -> None:
        assert self.nodes is not None and self.conditions is not None
        source = alarm.get("source") or ""
        asset = self.twin.asset_of(source) or source
        parent = self.nodes.folders.get(asset, self.nodes.root)
        await self.conditions.ensure(alarm, parent)
        if fire:
            await self.conditions.fire(alarm, parent, asset or "Plant")

    async def refresh(self) -> None:
        """Re-send the state of every alarm an operator must see (ConditionRefresh)."""
        for alarm in self.twin.alarms.active():
            await self._condition(alarm.to_dict(), fire=True)

    # -- values ---------------------------------------------------------------------------------

    async def write(self, table: pa.Table) -> None:
        """Publish a samples batch (newest value per signal) or an events batch (model metadata)."""
        if self.server is None or self.nodes is None:
            return
        if "kind" in table.column_names:
            await self._events(conform(table, EVENTS_SCHEMA, "events"))
            return
        if "value" not in table.column_names or table.num_rows == 0:
            return
        last = last_per_signal(table)
        touched: set[str] = set()
        for sid, t, v, q in zip(
            last.signals,
            last.ts_ns.tolist(),
            last.values.tolist(),
            last.quality.tolist(),
            strict=True,
        ):
            var = self.nodes.variables.get(sid)
            if var is None:
                continue
            await self.server.write_attribute_value(var.nodeid, _dv(v, t, q))
            touched.add(sid.rpartition("/")[0])
        for path in touched:
            await self._health(path)

    async def _health(self, path: str) -> None:
        vs = self._asset_vars.get(path)
        if vs is None or self.server is None:
            return
        h = self.twin.health(path)
        await vs["HealthIndex"].write_value(float(h.value))
        await vs["HealthStatus"].write_value(str(h.status))
        await vs["HealthReason"].write_value(str(h.reason))

    async def _events(self, events: pa.Table) -> None:
        for row in events.select(["source", "kind", "payload"]).to_pylist():
            try:
                payload = json.loads(row["payload"]) if row["payload"] else {}
            except ValueError:
                continue
            module = payload.get("module") if isinstance(payload, dict) else None
            path = self.twin.asset_of(row["source"] or "")
            if not module or path is None:
                continue
            vs = self._asset_vars[path]
            await vs["Model.Module"].write_value(str(module))
            await vs["Model.LastDecision"].write_value(str(row["kind"]))
            meta = {k: v for k, v in payload.items() if k not in ("message",)}
            await vs["Model.Metadata"].write_value(json.dumps(meta, default=str)[:4000])
            for d in DERIVED_SIGNALS:
                prop = self._produced_by.get(f"{path}/{d}")
                if prop is not None:
                    await prop.write_value(str(module))


def _dv(value: float, ts_ns: int, quality: int) -> ua.DataValue:
    t = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(ts_ns) // 1000)
    code = {0xC0: 0, 0x40: 0x40000000}.get(int(quality), 0x80000000)
    v = float(value) if value is not None and not np.isnan(value) else float("nan")
    return data_value(v, t, code)


def twin_server_from_config(twin: Twin, *, port: int | None = None) -> TwinServer:
    """A TwinServer configured from plant.yaml's `server:` section.

    `server.host` and `server.opcua_port` give the endpoint; `server.opcua` (optional) holds
    the security: `{policies: [...], certificate, private_key, trust, allow_anonymous_read,
    users: {name: {password, role}}}`.
    """
    cfg = twin.plant.server
    extra = dict(cfg.model_extra or {})
    security = ServerSecurity.from_options(extra.get("opcua"), "server.opcua")
    return TwinServer(
        twin, cfg.host, port if port is not None else cfg.opcua_port, security=security
    )
