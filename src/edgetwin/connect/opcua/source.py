"""OpcUaSource: subscribe to a server's nodes and deliver samples tables, unattended.

The source owns its reconnect supervisor because only it knows what to recover: after a server
restart or a network loss it reconnects with exponential back-off, resolves the nodes again,
recreates the subscription, and reads the gap (last source timestamp per signal .. now) with
HistoryRead where the server keeps history, so a restart loses no samples. The runtime's
supervisor still restarts it if `run` raises (bad config, unknown nodes).

Connection state goes to the logs and to `on_state(name, state, detail)` (the runtime wires
it to `Twin.set_source_state`); states are connecting, connected, backfilled, reconnecting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
from asyncua import Client, ua
from asyncua.crypto import security_policies
from asyncua.crypto.uacrypto import x509_from_der

from edgetwin.connect.opcua.batch import BatchSubscription, NotificationDecoder
from edgetwin.connect.opcua.config import ItemSpec, OpcUaSourceOptions, parse_source
from edgetwin.connect.opcua.security import TrustList, ensure_certificate
from edgetwin.core.config import PlantConfig, SourceConfig
from edgetwin.core.errors import ConfigError, ConnectError
from edgetwin.runtime.interfaces import Emit

log = logging.getLogger(__name__)

StateCallback = Callable[[str, str, str], None]
CLIENT_APP_URI = "urn:edgetwin:opcua:client"
_MODES = {
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}
_RECOVERABLE = (OSError, TimeoutError, asyncio.TimeoutError, ua.UaError, ConnectError)


class OpcUaSource:
    """Source of samples from an OPC UA server's data-change subscription.

    name: source name (plant.yaml). options: validated `OpcUaSourceOptions`. items: the
    monitored items (signal id, node, sampling interval in ms, deadband, queue size).
    """

    def __init__(
        self,
        name: str,
        options: OpcUaSourceOptions,
        items: list[ItemSpec],
        *,
        on_state: StateCallback | None = None,
    ) -> None:
        self.name = name
        self.options = options
        self.items = items
        self.on_state = on_state
        self.decoder = NotificationDecoder([it.signal_id for it in items])
        self.state = "idle"
        self.connects = 0
        self.backfilled = 0  # samples recovered by HistoryRead, all reconnects together
        self.last_resubscribe_s: float | None = None  # loss detected -> subscription live again
        self._node_ids: list[ua.NodeId] | None = None
        self._lost_at: float | None = None

    @classmethod
    def from_config(cls, cfg: SourceConfig, plant: PlantConfig) -> OpcUaSource:
        opts, items = parse_source(cfg, plant)
        return cls(cfg.name, opts, items)

    # -- state ----------------------------------------------------------------------------------

    def _report(self, state: str, detail: str = "") -> None:
        self.state = state
        level = logging.WARNING if state == "reconnecting" else logging.INFO
        log.log(level, "opcua source %s: %s %s", self.name, state, detail)
        if self.on_state:
            try:
                self.on_state(self.name, state, detail)
            except Exception:  # a broken listener must not stop ingest
                log.exception("on_state listener failed")

    # -- run ------------------------------------------------------------------------------------

    async def run(self, emit: Emit) -> None:
        """Connect, subscribe, deliver; reconnect with back-off and backfill after any loss."""
        delay = self.options.reconnect_min_s
        while True:
            lost = asyncio.Event()
            client = await self._client(lost)
            try:
                self._report("connecting", self.options.endpoint)
                await client.connect()
                await self._subscribe(client, emit, lost)
                delay = self.options.reconnect_min_s
                await lost.wait()
                raise ConnectError(f"connection to {self.options.endpoint} lost")
            except _RECOVERABLE as exc:
                if self._lost_at is None:
                    self._lost_at = time.monotonic()
                self._report("reconnecting", f"{type(exc).__name__}: {exc}; retry in {delay:.1f} s")
            finally:
                await _close(client)
            await asyncio.sleep(delay)
            delay = min(delay * 2.0, self.options.reconnect_max_s)

    async def _client(self, lost: asyncio.Event) -> Client:
        opts = self.options
        client = Client(opts.endpoint, timeout=opts.timeout_s, watchdog_intervall=opts.watchdog_s)
        client.application_uri = CLIENT_APP_URI
        client.name = client.description = f"edgetwin source {self.name}"

        async def on_lost(exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = on_lost
        if opts.username:
            client.set_user(opts.username)
            password = opts.resolved_password()
            if password is not None:
                client.set_password(password)
        sec = opts.security
        if sec.policy != "None":
            assert sec.certificate and sec.private_key  # checked by SecurityOptions
            if sec.generate:
                ensure_certificate(sec.certificate, sec.private_key, CLIENT_APP_URI, server=False)
            server_cert = await self._server_certificate(sec.policy, sec.mode)
            await client.set_security(
                security_policies.SecurityPolicyBasic256Sha256,
                certificate=sec.certificate,
                private_key=sec.private_key,
                server_certificate=server_cert,
                mode=_MODES[sec.mode],
            )
        return client

    async def _server_certificate(self, policy: str, mode: str) -> bytes:
        """The server certificate of the matching endpoint, checked against our trust list."""
        probe = Client(self.options.endpoint, timeout=self.options.timeout_s)
        endpoints = await probe.connect_and_get_server_endpoints()
        uri = security_policies.SecurityPolicyBasic256Sha256.URI
        for ep in endpoints:
            if ep.SecurityPolicyUri == uri and ep.SecurityMode == _MODES[mode]:
                der: bytes = ep.ServerCertificate
                if self.options.security.trust:
                    TrustList(self.options.security.trust).require(der, self.options.endpoint)
                x509_from_der(der)  # fail early on a malformed certificate
                return der
        raise ConnectError(
            f"server {self.options.endpoint} offers no {policy} {mode} endpoint; "
            f"it offers {[(e.SecurityPolicyUri.rsplit('#', 1)[-1], e.SecurityMode.name) for e in endpoints]}"
        )

    async def _subscribe(self, client: Client, emit: Emit, lost: asyncio.Event) -> None:
        opts = self.options
        if self._node_ids is None:
            self._node_ids = await self._resolve(client)
        since = self.decoder.last_ts_ns.copy()  # before new notifications move it
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=opts.publishing_interval_ms,
            RequestedLifetimeCount=10000,
            RequestedMaxKeepAliveCount=max(3, int(10_000 / opts.publishing_interval_ms)),
            MaxNotificationsPerPublish=0,
            PublishingEnabled=True,
            Priority=0,
        )

        def on_status(_: ua.StatusChangeNotification) -> None:
            lost.set()

        sub = BatchSubscription(client.uaclient.session, params, self.decoder, emit, on_status)
        await sub.init()
        bad: list[str] = []
        step = opts.max_items_per_call
        for start in range(0, len(self.items), step):
            reqs = [
                sub.item_request(
                    i, self._node_ids[i], it.sampling_interval_ms, it.deadband, it.queue_size
                )
                for i, it in enumerate(self.items[start : start + step], start=start)
            ]
            results = await sub.create_monitored_items(reqs)
            bad += [
                f"{self.items[start + k].signal_id} ({r.name})"
                for k, r in enumerate(results)
                if isinstance(r, ua.StatusCode)
            ]
        if bad:
            log.warning("opcua source %s: %d item(s) refused: %s", self.name, len(bad), bad[:10])
        self.connects += 1
        if self._lost_at is not None:
            self.last_resubscribe_s = time.monotonic() - self._lost_at
            self._lost_at = None
        self._report("connected", f"{len(self.items) - len(bad)} items on {opts.endpoint}")
        if opts.history_backfill and since.any():
            n = await self._backfill(client, emit, since)
            self.backfilled += n
            self._report("backfilled", f"{n} samples from history")

    async def _resolve(self, client: Client) -> list[ua.NodeId]:
        """NodeIds for every item: parse NodeId strings, translate browse paths in one call."""
        out: list[ua.NodeId | None] = [None] * len(self.items)
        paths: list[tuple[int, list[str]]] = []
        for i, it in enumerate(self.items):
            if it.is_path:
                parts = [p for p in it.node.split("/") if p]
                if parts and parts[0] in ("Objects", "0:Objects"):
                    parts = parts[1:]
                paths.append((i, parts))
            else:
                try:
                    out[i] = ua.NodeId.from_string(it.node)
                except Exception:
                    raise ConfigError(
                        f"source {self.name!r} (opcua): {it.signal_id}: {it.node!r} is not a "
                        "NodeId; write e.g. 'ns=2;s=Pump1.Flow' or 'i=2258'"
                    ) from None
        if paths:
            objects = client.nodes.objects
            for i, parts in paths:
                try:
                    node = await objects.get_child(parts)
                except ua.UaError:
                    raise ConfigError(
                        f"source {self.name!r} (opcua): {self.items[i].signal_id}: browse path "
                        f"{self.items[i].node!r} not found under Objects on {self.options.endpoint}"
                    ) from None
                out[i] = node.nodeid
        return [n for n in out if n is not None]

    async def _backfill(self, client: Client, emit: Emit, since_ns: np.ndarray) -> int:
        """HistoryRead every signal from its last timestamp to now; returns samples recovered."""
        assert self._node_ids is not None
        # a day past now: a simulated or replayed plant may stamp values ahead of wall time
        end = max(datetime.now(UTC), _ns_to_dt(int(since_ns.max()))) + timedelta(days=1)
        todo = [i for i in range(len(self.items)) if since_ns[i] > 0]
        total = 0
        chunk = 200
        for start in range(0, len(todo), chunk):
            idx = todo[start : start + chunk]
            cps: dict[int, bytes | None] = {i: None for i in idx}
            first = True
            while cps:
                params = ua.HistoryReadParameters()
                details = ua.ReadRawModifiedDetails(
                    IsReadModified=False, NumValuesPerNode=0, ReturnBounds=False, EndTime=end
                )
                # one StartTime for the chunk: the oldest gap start; later samples are dropped
                # below so that nothing already delivered is sent twice
                details.StartTime = _ns_to_dt(int(min(since_ns[i] for i in cps)) + 1000)
                params.HistoryReadDetails = details
                params.TimestampsToReturn = ua.TimestampsToReturn.Source
                params.NodesToRead = [
                    ua.HistoryReadValueId(NodeId=self._node_ids[i], ContinuationPoint=cps[i])
                    for i in cps
                ]
                try:
                    results = await client.uaclient.history_read(params)
                except ua.UaStatusCodeError as exc:
                    log.info("opcua source %s: server refused HistoryRead (%s)", self.name, exc)
                    return total
                nxt: dict[int, bytes | None] = {}
                for i, res in zip(list(cps), results, strict=True):
                    if not res.StatusCode.is_good():
                        if first:
                            log.info(
                                "opcua source %s: no history for %s (%s)",
                                self.name,
                                self.items[i].signal_id,
                                res.StatusCode.name,
                            )
                        continue
                    dvs = getattr(res.HistoryData, "DataValues", None) or []
                    table = self.decoder.decode_values(i, dvs)
                    if table is not None:
                        ts = table.column("ts").cast(pa.int64()).to_numpy()
                        table = table.filter(pa.array(ts > since_ns[i]))
                        if table.num_rows:
                            total += table.num_rows
                            await emit(table)
                    if res.ContinuationPoint:
                        nxt[i] = res.ContinuationPoint
                cps = nxt
                first = False
        return total


def _ns_to_dt(ns: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ns // 1000)


async def _close(client: Client) -> None:
    try:
        await asyncio.wait_for(client.disconnect(), timeout=2.0)
    except Exception:  # noqa: BLE001 - the peer may already be gone; nothing to recover
        client.disconnect_socket()


def source_from_config(cfg: SourceConfig, plant: PlantConfig) -> OpcUaSource:
    """Runtime factory (`kind: opcua`)."""
    return OpcUaSource.from_config(cfg, plant)
