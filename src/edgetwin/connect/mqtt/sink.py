"""SparkplugSink: publish the twin's samples as a Sparkplug B edge node (runtime sink).

On connect it registers an NDEATH will carrying `bdSeq`, then sends NBIRTH (bdSeq, Node
Control/Rebirth) and one DBIRTH per asset with every metric, its alias and datatype; samples
go out as DDATA by alias with per-metric timestamps. An NCMD `Node Control/Rebirth = true`
from a host application makes it send all births again. `stop()` sends DDEATH and NDEATH.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import paho.mqtt.client as mqtt
import pyarrow as pa

from edgetwin.connect.mqtt import sparkplug as spb
from edgetwin.connect.mqtt import sparkplug_b_pb2 as pb
from edgetwin.connect.mqtt.broker import BrokerOptions
from edgetwin.core.config import DERIVED_SIGNALS, PlantConfig
from edgetwin.core.errors import ConnectError

log = logging.getLogger(__name__)


class SparkplugSink:
    """A Sparkplug B edge node `edge_node` in `group` with one device per asset."""

    def __init__(
        self,
        plant: PlantConfig,
        broker: BrokerOptions,
        group: str = "edgetwin",
        edge_node: str = "edge1",
        *,
        name: str = "sparkplug",
        derived: bool = True,
    ) -> None:
        self.name = name
        self.broker = broker
        self.group = spb.check_id(group, "group id")
        self.edge_node = spb.check_id(edge_node, "edge node id")
        self.bdseq = 0
        self.births = 0
        self._seq = 0
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._client: mqtt.Client | None = None
        # device -> metric name -> alias; aliases are unique across the node (spec 6.4.2)
        self.devices: dict[str, dict[str, int]] = {}
        alias = 1
        for asset in plant.assets:
            names = [s.name for s in asset.signals if s.kind == "scalar"]
            if derived:
                names += [d for d in DERIVED_SIGNALS if d not in names]
            dev = spb.device_id(asset.path)
            self.devices[dev] = {}
            for n in names:
                self.devices[dev][n] = alias
                alias += 1
        self._last: dict[tuple[str, str], tuple[int, float]] = {}

    def _next_seq(self) -> int:
        s = self._seq
        self._seq = (self._seq + 1) % 256
        return s

    async def start(self) -> None:
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.broker.client_id or f"edgetwin-{self.edge_node}",
            clean_session=True,
        )
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set(ca_certs=self.broker.ca_file)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = lambda *a: self._connected.clear()
        self._set_will(client)
        self._client = client
        try:
            client.connect(self.broker.host, self.broker.port, self.broker.keepalive_s)
        except OSError as exc:
            raise ConnectError(
                f"MQTT broker {self.broker.host}:{self.broker.port} unreachable ({exc}); "
                "check host/port and that the broker runs"
            ) from None
        client.loop_start()
        ok = await asyncio.to_thread(self._connected.wait, 10.0)
        if not ok:
            raise ConnectError(
                f"MQTT broker {self.broker.host}:{self.broker.port} did not accept us"
            )

    def _set_will(self, client: mqtt.Client) -> None:
        death = spb.payload(None, [{"name": spb.BDSEQ, "datatype": pb.Int64, "value": self.bdseq}])
        client.will_set(spb.topic(self.group, "NDEATH", self.edge_node), death, qos=1)

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any = None
    ) -> None:
        if getattr(rc, "is_failure", False):
            log.error("sparkplug sink: broker refused connection: %s", rc)
            return
        client.subscribe(spb.topic(self.group, "NCMD", self.edge_node), qos=1)
        self.publish_births()
        self._connected.set()

    def publish_births(self) -> None:
        """NBIRTH (seq 0, bdSeq) and every DBIRTH with current values."""
        assert self._client is not None
        with self._lock:
            self._seq = 0
            node = spb.payload(
                self._next_seq(),
                [
                    {"name": spb.BDSEQ, "datatype": pb.Int64, "value": self.bdseq},
                    {"name": spb.REBIRTH, "datatype": pb.Boolean, "value": False},
                ],
            )
            self._client.publish(spb.topic(self.group, "NBIRTH", self.edge_node), node, qos=0)
            for dev, metrics in self.devices.items():
                ms = []
                for n, a in metrics.items():
                    ts, v = self._last.get((dev, n), (spb.now_ms(), float("nan")))
                    ms.append(
                        {"name": n, "alias": a, "timestamp": ts, "datatype": pb.Double, "value": v}
                    )
                self._client.publish(
                    spb.topic(self.group, "DBIRTH", self.edge_node, dev),
                    spb.payload(self._next_seq(), ms),
                    qos=0,
                )
            self.births += 1

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            p = pb.Payload.FromString(msg.payload)
        except Exception:  # noqa: BLE001 - a malformed command must not stop the node
            log.warning("sparkplug sink: malformed NCMD on %s ignored", msg.topic)
            return
        for m in p.metrics:
            if m.name == spb.REBIRTH and m.boolean_value:
                log.info("sparkplug sink: rebirth requested")
                self.publish_births()

    async def write(self, table: pa.Table) -> None:
        """Publish a samples batch as one DDATA per device (events are not published)."""
        if self._client is None or "value" not in table.column_names or table.num_rows == 0:
            return
        table = table.unify_dictionaries().combine_chunks()
        sig = table.column("signal").chunk(0)
        names = sig.dictionary.to_pylist()
        codes = sig.indices.to_numpy(zero_copy_only=False)
        ts_ms = (table.column("ts").chunk(0).cast(pa.int64()).to_numpy() // 1_000_000).tolist()
        vals = table.column("value").chunk(0).to_numpy(zero_copy_only=False).tolist()
        per_dev: dict[str, list[dict[str, Any]]] = {}
        mapping: list[tuple[str, str, int] | None] = []
        for sid in names:
            path, _, metric = sid.rpartition("/")
            dev = spb.device_id(path)
            alias = self.devices.get(dev, {}).get(metric)
            mapping.append(None if alias is None else (dev, metric, alias))
        for k, code in enumerate(codes.tolist()):
            hit = mapping[code]
            if hit is None:
                continue
            dev, metric, alias = hit
            per_dev.setdefault(dev, []).append(
                {"alias": alias, "timestamp": ts_ms[k], "datatype": pb.Double, "value": vals[k]}
            )
            self._last[(dev, metric)] = (ts_ms[k], vals[k])
        with self._lock:
            for dev, ms in per_dev.items():
                self._client.publish(
                    spb.topic(self.group, "DDATA", self.edge_node, dev),
                    spb.payload(self._next_seq(), ms),
                    qos=0,
                )

    async def stop(self, clean: bool = True) -> None:
        """DDEATH every device and NDEATH (clean) or just drop the connection (will fires)."""
        client, self._client = self._client, None
        if client is None:
            return
        if clean:
            with self._lock:
                for dev in self.devices:
                    client.publish(
                        spb.topic(self.group, "DDEATH", self.edge_node, dev),
                        spb.payload(self._next_seq(), []),
                        qos=0,
                    )
                info = client.publish(
                    spb.topic(self.group, "NDEATH", self.edge_node),
                    spb.payload(
                        None, [{"name": spb.BDSEQ, "datatype": pb.Int64, "value": self.bdseq}]
                    ),
                    qos=1,
                )
            await asyncio.to_thread(info.wait_for_publish, 5.0)
            client.disconnect()
        else:
            sock = client.socket()
            if sock is not None:
                sock.close()  # no DISCONNECT packet: the broker publishes our NDEATH will
        client.loop_stop()
        self.bdseq = (self.bdseq + 1) % 256
