"""SparkplugSource: a Sparkplug B host application that ingests DBIRTH/DDATA into samples.

It subscribes to `spBv1.0/<group>/#`, learns each device's metric aliases from its DBIRTH,
checks every edge node's `seq` (0..255) and `bdSeq`, and asks for a rebirth (NCMD
`Node Control/Rebirth`) when it sees a gap, an unknown alias, or data before a birth.
NDEATH (matching bdSeq) and DDEATH mark the node's or device's metrics Bad with one sample
each, so the twin shows them stale. A payload that does not decode is counted in `malformed`
and logged; it never stops the source.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from edgetwin.connect.mqtt import sparkplug as spb
from edgetwin.connect.mqtt import sparkplug_b_pb2 as pb
from edgetwin.connect.mqtt.broker import BrokerOptions
from edgetwin.connect.options import parse_options
from edgetwin.core.config import DERIVED_SIGNALS, PlantConfig, SourceConfig
from edgetwin.core.errors import ConnectError
from edgetwin.core.quality import Quality
from edgetwin.core.schemas import make_samples

log = logging.getLogger(__name__)


class SparkplugSourceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    broker: BrokerOptions = Field(default_factory=BrokerOptions)
    group: str = "edgetwin"
    queue: int = Field(1000, ge=1, description="tables buffered before the broker is throttled")


class _Node:
    def __init__(self) -> None:
        self.bdseq: int | None = None
        self.seq: int | None = None
        self.aliases: dict[str, dict[int, str]] = {}  # device -> alias -> metric name
        self.metrics: dict[str, set[str]] = {}  # device -> metric names (for deaths)
        self.last_rebirth = 0.0


class SparkplugSource:
    """Host application for one Sparkplug group; signal id = asset path (device) + metric."""

    def __init__(self, name: str, plant: PlantConfig, options: SparkplugSourceOptions) -> None:
        self.name = name
        self.options = options
        self.group = spb.check_id(options.group, "group id")
        self.known = plant.signal_ids() | {
            a.signal_id(d) for a in plant.assets for d in DERIVED_SIGNALS
        }
        self.nodes: dict[str, _Node] = {}
        self.malformed = 0
        self.unknown = 0
        self.seq_gaps = 0
        self.rebirths_requested = 0
        self.received = 0
        self._client: mqtt.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[pa.Table] | None = None

    @classmethod
    def from_config(cls, cfg: SourceConfig, plant: PlantConfig) -> SparkplugSource:
        return cls(cfg.name, plant, parse_options(SparkplugSourceOptions, cfg))

    async def run(self, emit: Any) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue(maxsize=self.options.queue)
        b = self.options.broker
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=b.client_id or f"edgetwin-host-{self.name}"
        )
        if b.username:
            client.username_pw_set(b.username, b.password)
        if b.tls:
            client.tls_set(ca_certs=b.ca_file)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 10)
        self._client = client
        try:
            client.connect(b.host, b.port, b.keepalive_s)
        except OSError as exc:
            raise ConnectError(f"MQTT broker {b.host}:{b.port} unreachable ({exc})") from None
        client.loop_start()
        try:
            while True:
                await emit(await self._queue.get())
        finally:
            client.disconnect()
            client.loop_stop()
            self._client = None

    # -- paho thread ----------------------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None
    ) -> None:
        if getattr(rc, "is_failure", False):
            log.error("sparkplug source %s: broker refused: %s", self.name, rc)
            return
        client.subscribe(f"{spb.NAMESPACE}/{self.group}/#", qos=1)
        log.info("sparkplug source %s: subscribed to group %s", self.name, self.group)

    def _put(self, table: pa.Table) -> None:
        assert self._loop is not None and self._queue is not None
        if self._loop.is_closed():
            return
        fut = asyncio.run_coroutine_threadsafe(self._queue.put(table), self._loop)
        try:
            fut.result(timeout=30)  # blocks the network thread: backpressure reaches the broker
        except Exception:  # noqa: BLE001 - loop shutting down
            fut.cancel()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        t = spb.parse_topic(msg.topic)
        if t is None or t.mtype in ("NCMD", "DCMD", "STATE"):
            return
        try:
            p = pb.Payload.FromString(msg.payload)
        except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and friends
            self.malformed += 1
            log.warning(
                "sparkplug source %s: malformed payload on %s (%d so far): %s",
                self.name,
                msg.topic,
                self.malformed,
                exc,
            )
            return
        try:
            self._handle(t, p)
        except Exception:  # noqa: BLE001 - one odd message must never stop the host
            self.malformed += 1
            log.exception("sparkplug source %s: cannot handle message on %s", self.name, msg.topic)

    def _handle(self, t: spb.Topic, p: Any) -> None:
        node = self.nodes.setdefault(t.node, _Node())
        if t.mtype == "NBIRTH":
            node.bdseq = next((int(m.long_value) for m in p.metrics if m.name == spb.BDSEQ), None)
            node.seq = int(p.seq)
            node.aliases.clear()
            node.metrics.clear()
            return
        if t.mtype == "NDEATH":
            bd = next((int(m.long_value) for m in p.metrics if m.name == spb.BDSEQ), None)
            if node.bdseq is not None and bd is not None and bd != node.bdseq:
                return  # the death of an older session
            self._stale(t.node, node, None)
            node.seq = None
            return
        if node.seq is None:
            self._rebirth(t.node, node, "data before NBIRTH")
            return
        expected = (node.seq + 1) % 256
        node.seq = int(p.seq)
        if p.seq != expected:
            self.seq_gaps += 1
            self._rebirth(t.node, node, f"seq {p.seq}, expected {expected}")
        dev = t.device
        if dev is None:
            return  # NDATA: node-level metrics are not signals
        if t.mtype == "DBIRTH":
            node.aliases[dev] = {int(m.alias): m.name for m in p.metrics if m.HasField("alias")}
            node.metrics[dev] = {m.name for m in p.metrics}
            self._samples(dev, p, {}, birth=True)
        elif t.mtype == "DDATA":
            aliases = node.aliases.get(dev)
            if aliases is None:
                self._rebirth(t.node, node, f"DDATA from {dev} before its DBIRTH")
                return
            self._samples(dev, p, aliases, birth=False)
        elif t.mtype == "DDEATH":
            self._stale(t.node, node, dev)

    def _samples(self, dev: str, p: Any, aliases: dict[int, str], birth: bool) -> None:
        path = spb.asset_path(dev)
        ids, ts, vals = [], [], []
        for m in p.metrics:
            name = m.name or aliases.get(int(m.alias))
            if not name:
                self.unknown += 1
                continue
            sid = f"{path}/{name}"
            if sid not in self.known:
                self.unknown += 1
                continue
            v = spb.metric_value(m)
            if birth and v != v:
                continue  # a birth without a value carries no sample
            ids.append(sid)
            ts.append((m.timestamp or p.timestamp) * 1_000_000)
            vals.append(v)
        if ids:
            self.received += len(ids)
            self._put(make_samples(np.array(ts, dtype=np.int64), ids, vals))

    def _stale(self, node_id: str, node: _Node, dev: str | None) -> None:
        devices = [dev] if dev else list(node.metrics)
        ids = [f"{spb.asset_path(d)}/{m}" for d in devices for m in node.metrics.get(d, ())]
        ids = [i for i in ids if i in self.known]
        if ids:
            now = time.time_ns()
            self._put(
                make_samples(np.full(len(ids), now), ids, np.full(len(ids), np.nan), Quality.BAD)
            )
        log.warning(
            "sparkplug source %s: %s%s is dead; %d metrics marked bad",
            self.name,
            node_id,
            f"/{dev}" if dev else "",
            len(ids),
        )

    def _rebirth(self, node_id: str, node: _Node, why: str) -> None:
        now = time.monotonic()
        if now - node.last_rebirth < 2.0 or self._client is None:
            return
        node.last_rebirth = now
        self.rebirths_requested += 1
        log.info("sparkplug source %s: rebirth request to %s (%s)", self.name, node_id, why)
        self._client.publish(
            spb.topic(self.group, "NCMD", node_id),
            spb.payload(None, [{"name": spb.REBIRTH, "datatype": pb.Boolean, "value": True}]),
            qos=0,
        )


def source_from_config(cfg: SourceConfig, plant: PlantConfig) -> SparkplugSource:
    """Runtime factory (`kind: mqtt`)."""
    return SparkplugSource.from_config(cfg, plant)
