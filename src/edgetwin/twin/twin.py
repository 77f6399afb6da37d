"""`Twin`: the live digital twin of a plant — registry, live state, health, alarms, maintenance.

The runtime calls `ingest` with every samples or events batch; everything else (REST API,
dashboard, OPC UA server) reads from here. Live state lives in plain dicts keyed by signal id:
one dict lookup per read keeps the API's latest-value endpoint cheap, and the ingest cost is
one vectorised pass per batch (`lastvalue.last_per_signal`) plus a loop over the *distinct*
signals of the batch.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from edgetwin.alarms import AlarmManager
from edgetwin.core.config import PlantConfig
from edgetwin.core.errors import EdgetwinError
from edgetwin.core.schemas import EVENTS_SCHEMA, conform, make_events
from edgetwin.twin.changes import ChangeHub, Subscription
from edgetwin.twin.health import Health, Node, asset_health, build_tree, roll_up
from edgetwin.twin.lastvalue import last_per_signal
from edgetwin.twin.state import AssetState, SignalValue
from edgetwin.twin.workorders import WorkOrder, WorkOrderBook

log = logging.getLogger(__name__)

EventSink = Callable[[pa.Table], None]
DERIVED = ("anomaly_score", "health", "rul", "rul_lo", "rul_hi", "fault_prob")


class TwinError(EdgetwinError):
    """A request about an asset or signal the twin does not know."""


class Twin:
    """Live state of every asset of one plant, with health roll-up, alarms and work orders."""

    def __init__(
        self,
        plant: PlantConfig,
        *,
        work_orders_path: str | Path | None = None,
        recent_events: int = 200,
    ) -> None:
        self.plant = plant
        self.alarms = AlarmManager(plant.alarms)
        self.work_orders = WorkOrderBook(work_orders_path)
        self.hub = ChangeHub()
        self._assets = {a.path: a for a in plant.assets}
        self._roots, self._nodes = build_tree(list(self._assets))
        self._latest: dict[str, SignalValue] = {}
        self._asset_signals: dict[str, dict[str, str]] = {p: {} for p in self._assets}
        for a in plant.assets:
            for s in a.signals:
                self._asset_signals[a.path][s.name] = a.signal_id(s.name)
        self._asset_of_signal: dict[str, str | None] = {}
        self._sources: dict[str, dict[str, Any]] = {}
        self._recent: dict[str, deque[dict[str, Any]]] = {}
        self._recent_n = recent_events
        self._event_sinks: list[EventSink] = []
        self._health: dict[str, Health] | None = None
        self._touched: set[str] = set()
        self._updated_ns: dict[str, int] = {}
        self._model_provider: Callable[[str], Any] | None = None
        self.alarms.subscribe(self._on_alarm)

    @classmethod
    def from_config(cls, plant: PlantConfig, *, state_dir: str | Path | None = None) -> Twin:
        """Build the registry from plant.yaml; work orders persist in `state_dir` when given."""
        wo = None if state_dir is None else Path(state_dir) / "workorders.sqlite"
        return cls(plant, work_orders_path=wo)

    # -- registry -----------------------------------------------------------------------------

    def asset_paths(self) -> list[str]:
        return list(self._assets)

    def has_asset(self, path: str) -> bool:
        return path in self._assets

    def asset_of(self, name: str) -> str | None:
        """The configured asset a signal id or event source belongs to (longest prefix), if any."""
        hit = self._asset_of_signal.get(name, "")
        if hit != "":
            return hit
        found: str | None = None
        probe = name
        while probe:
            if probe in self._assets:
                found = probe
                break
            probe = probe.rpartition("/")[0]
        self._asset_of_signal[name] = found
        return found

    def _check_asset(self, path: str) -> None:
        if path not in self._assets:
            raise TwinError(f"unknown asset {path!r}; known assets: {sorted(self._assets)}")

    # -- ingest -------------------------------------------------------------------------------

    def ingest(self, table: pa.Table) -> pa.Table:
        """Take a samples or events batch; return the alarm events it caused (store them)."""
        if "values" in table.column_names:
            return EVENTS_SCHEMA.empty_table()  # waveform bursts stay in the store
        if "kind" in table.column_names:
            self._ingest_events(conform(table, EVENTS_SCHEMA, "events"))
            out = self.alarms.evaluate(table)
        else:
            self._ingest_samples(table)
            out = self.alarms.evaluate(table)
        self._remember(out)
        self._flush_changes()
        return out

    def _ingest_samples(self, table: pa.Table) -> None:
        last = last_per_signal(table)
        if not last.signals:
            return
        latest = self._latest
        for sid, t, v, q in zip(
            last.signals,
            last.ts_ns.tolist(),
            last.values.tolist(),
            last.quality.tolist(),
            strict=True,
        ):
            old = latest.get(sid)
            if old is not None and old.ts_ns > t:
                continue  # late data never overwrites newer live state
            latest[sid] = SignalValue(v, q, t)
            asset = (
                self.asset_of(sid.rpartition("/")[0])
                if old is None
                else self._asset_of_signal.get(sid)
            )
            if old is None:
                self._asset_of_signal[sid] = asset
                parent = sid.rpartition("/")[0]
                if asset is not None and parent == asset:
                    self._asset_signals[asset].setdefault(sid.rpartition("/")[2], sid)
            if asset is not None:
                self._touched.add(asset)
                if t > self._updated_ns.get(asset, 0):
                    self._updated_ns[asset] = t
        self._health = None

    def _ingest_events(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        cols = {c: table.column(c).to_pylist() for c in ("source", "kind", "severity", "payload")}
        ts = table.column("ts").cast(pa.int64()).to_pylist()
        for i, t in enumerate(ts):
            if cols["kind"][i] == "alarm":
                continue  # alarm transitions come from our own manager (see _remember)
            self._record(
                {
                    "ts_ns": t,
                    "source": cols["source"][i],
                    "kind": cols["kind"][i],
                    "severity": cols["severity"][i],
                    "payload": _loads(cols["payload"][i]),
                }
            )

    def _record(self, event: dict[str, Any]) -> None:
        asset = self.asset_of(event["source"]) or event["source"]
        ring = self._recent.get(asset)
        if ring is None:
            ring = self._recent[asset] = deque(maxlen=self._recent_n)
        ring.append(event)
        if asset in self._assets:
            self._touched.add(asset)
        if self.hub.has_subscribers:
            self.hub.publish({"type": "event", "asset": asset, **event})

    def _remember(self, events: pa.Table) -> None:
        """Put events the twin produced into the timeline (not re-read from `ingest`)."""
        if events.num_rows == 0:
            return
        ts = events.column("ts").cast(pa.int64()).to_pylist()
        for t, src, kind, sev, p in zip(
            ts,
            *(events.column(c).to_pylist() for c in ("source", "kind", "severity", "payload")),
            strict=True,
        ):
            self._record(
                {"ts_ns": t, "source": src, "kind": kind, "severity": sev, "payload": _loads(p)}
            )

    def _emit(self, events: pa.Table) -> None:
        """Events from operator actions: timeline, then every sink (the store, usually)."""
        self._remember(events)
        for sink in self._event_sinks:
            try:
                sink(events)
            except Exception:  # a failing sink must not undo the operator's action
                log.exception("event sink failed")
        self._flush_changes()

    def add_event_sink(self, sink: EventSink) -> None:
        """Receive the events of operator actions (acks, shelves, work orders) to persist them."""
        self._event_sinks.append(sink)

    def _on_alarm(self, payload: dict[str, Any]) -> None:
        self._health = None
        source = payload.get("source") or ""
        asset = self.asset_of(source)
        if asset:
            self._touched.add(asset)
        if self.hub.has_subscribers:
            self.hub.publish({"type": "alarm", "asset": asset, **payload})

    def set_source_state(self, name: str, state: str, detail: str = "") -> None:
        """The runtime's supervisor reports a source up / down / finished."""
        self._sources[name] = {"state": state, "detail": detail, "since_ns": time.time_ns()}
        for path in self._assets_of_source(name):
            self._touched.add(path)
        self._flush_changes()

    def _assets_of_source(self, name: str) -> list[str]:
        for s in self.plant.sources:
            if s.name == name:
                return list(s.assets) or list(self._assets)
        return list(self._assets)

    # -- reads --------------------------------------------------------------------------------

    def latest(self, signal_ids: Iterable[str] | None = None) -> dict[str, SignalValue]:
        """Last value of each signal (all when None); unknown ids are left out."""
        if signal_ids is None:
            return dict(self._latest)
        return {s: self._latest[s] for s in signal_ids if s in self._latest}

    def signal_ids(self) -> list[str]:
        return sorted(set(self._latest) | self.plant.signal_ids())

    def _value(self, path: str, name: str) -> float | None:
        sv = self._latest.get(f"{path}/{name}")
        return None if sv is None or sv.value != sv.value else sv.value

    def _healths(self) -> dict[str, Health]:
        if self._health is None:
            by_source: dict[str, list[dict[str, Any]]] = {}
            for a in self.alarms.all():
                asset = self.asset_of(a.source) if a.source else None
                if asset:
                    by_source.setdefault(asset, []).append(a.to_dict())
            own = {
                p: asset_health(self._value(p, "health"), by_source.get(p, []))
                for p in self._assets
            }
            out: dict[str, Health] = {}
            for root in self._roots:
                out.update(roll_up(root, own))
            self._health = out
        return self._health

    def asset(self, path: str) -> AssetState:
        """Everything the twin knows about one asset now."""
        self._check_asset(path)
        cfg = self._assets[path]
        h = self._healths()[path]
        alarms = [
            a.to_dict()
            for a in self.alarms.all()
            if a.annunciated and a.source and self.asset_of(a.source) == path
        ]
        signals = {
            n: self._latest[sid]
            for n, sid in self._asset_signals[path].items()
            if sid in self._latest
        }
        return AssetState(
            path=path,
            type=cfg.type,
            description=cfg.description,
            nameplate=dict(cfg.nameplate),
            signals=signals,
            health=h.value,
            health_reason=h.reason,
            status=h.status,
            rul=self._value(path, "rul"),
            rul_lo=self._value(path, "rul_lo"),
            rul_hi=self._value(path, "rul_hi"),
            anomaly_score=self._value(path, "anomaly_score"),
            fault_prob=self._value(path, "fault_prob"),
            alarms=alarms,
            sources={
                n: self._sources.get(n, {"state": "unknown"}) for n in self._source_names(path)
            },
            open_work_orders=len(self.work_orders.list(asset=path, status="open")),
            updated_ns=self._updated_ns.get(path, 0),
        )

    def _source_names(self, path: str) -> list[str]:
        return [s.name for s in self.plant.sources if not s.assets or path in s.assets]

    def tree(self) -> list[dict[str, Any]]:
        """The ISA-95 tree with rolled-up health at every node."""
        healths = self._healths()

        def node(n: Node) -> dict[str, Any]:
            h = healths.get(n.path, Health())
            return {
                "path": n.path,
                "name": n.name,
                "level": n.level,
                "is_asset": n.is_asset,
                "health": h.value,
                "status": h.status,
                "reason": h.reason,
                "worst": h.worst,
                "children": [node(c) for c in n.children],
            }

        return [node(r) for r in self._roots]

    def health(self, path: str) -> Health:
        """Rolled-up health of any node of the tree (asset or area/line/site)."""
        try:
            return self._healths()[path]
        except KeyError:
            raise TwinError(f"unknown node {path!r}; known: {sorted(self._nodes)}") from None

    def timeline(self, path: str, limit: int = 100) -> list[dict[str, Any]]:
        """Recent events of an asset, newest first (the store keeps the full history)."""
        ring = self._recent.get(path, deque())
        return list(reversed(list(ring)[-limit:]))

    def inspection_images(self) -> set[str]:
        """Image paths named by recent inspection events (the only files the API may serve)."""
        out: set[str] = set()
        for ring in self._recent.values():
            for e in ring:
                if e["kind"] == "inspection" and isinstance(e["payload"], dict):
                    for key in ("overlay", "overlay_path", "image", "image_path"):
                        v = e["payload"].get(key)
                        if isinstance(v, str):
                            out.add(v)
        return out

    def snapshot(self) -> dict[str, Any]:
        """The whole twin as JSON-able dict (plant tree, every asset, annunciated alarms)."""
        return {
            "plant": self.plant.name,
            "ts_ns": time.time_ns(),
            "tree": self.tree(),
            "assets": {p: self.asset(p).to_dict() for p in self._assets},
            "alarms": [a.to_dict() for a in self.alarms.active()],
            "sources": dict(self._sources),
        }

    # -- live changes -------------------------------------------------------------------------

    def changes(self, maxsize: int = 1000) -> Subscription:
        """Subscribe to changes (`async for change in twin.changes()`); call inside the loop."""
        return self.hub.subscribe(maxsize)

    def _flush_changes(self) -> None:
        touched, self._touched = self._touched, set()
        if not touched or not self.hub.has_subscribers:
            return
        for path in touched:
            self.hub.publish({"type": "asset", "path": path, "state": self.asset(path).to_dict()})
        healths = self._healths()
        self.hub.publish(
            {
                "type": "tree",
                "nodes": {
                    p: {"health": h.value, "status": h.status, "reason": h.reason}
                    for p, h in healths.items()
                },
            }
        )

    # -- operator actions ---------------------------------------------------------------------

    def acknowledge(self, alarm_id: str, user: str, comment: str = "") -> dict[str, Any]:
        self._emit(self.alarms.acknowledge(alarm_id, user, comment))
        return self.alarms.get(alarm_id).to_dict()

    def shelve(
        self, alarm_id: str, user: str, duration_s: float | None = None, comment: str = ""
    ) -> dict[str, Any]:
        self._emit(self.alarms.shelve(alarm_id, user, duration_s, comment))
        return self.alarms.get(alarm_id).to_dict()

    def unshelve(self, alarm_id: str, user: str, comment: str = "") -> dict[str, Any]:
        self._emit(self.alarms.unshelve(alarm_id, user, comment))
        return self.alarms.get(alarm_id).to_dict()

    def suppress(self, alarm_id: str, on: bool, user: str) -> dict[str, Any]:
        self._emit(self.alarms.suppress(alarm_id, on, user))
        return self.alarms.get(alarm_id).to_dict()

    def set_out_of_service(
        self, alarm_id: str, on: bool, user: str, comment: str = ""
    ) -> dict[str, Any]:
        self._emit(self.alarms.set_out_of_service(alarm_id, on, user, comment))
        return self.alarms.get(alarm_id).to_dict()

    def tick(self) -> None:
        """Expire timed shelves; call every few seconds (the server does)."""
        events = self.alarms.tick()
        if events.num_rows:
            self._emit(events)

    def open_work_order(
        self, asset: str, title: str, *, from_alarm: str | None = None, user: str = "operator"
    ) -> WorkOrder:
        """Open a work order, optionally from an alarm (its message becomes the default title)."""
        self._check_asset(asset)
        if from_alarm is not None:
            alarm = self.alarms.get(from_alarm)
            title = title or f"{alarm.message} ({alarm.alarm_id})"
        wo = self.work_orders.open(asset, title, alarm_id=from_alarm, user=user)
        self._maintenance_event(wo, "opened")
        return wo

    def close_work_order(self, wid: int, note: str, *, user: str = "operator") -> WorkOrder:
        wo = self.work_orders.close(wid, note, user=user)
        self._maintenance_event(wo, "closed")
        return wo

    def _maintenance_event(self, wo: WorkOrder, action: str) -> None:
        ts = wo.closed_ns if action == "closed" and wo.closed_ns else wo.opened_ns
        self._touched.add(wo.asset)
        self._emit(
            make_events([ts], wo.asset, "maintenance", 300, {**wo.to_dict(), "action": action})
        )
        if self.hub.has_subscribers:
            self.hub.publish({"type": "work_order", "action": action, **wo.to_dict()})

    # -- what-if ------------------------------------------------------------------------------

    def set_model_provider(self, provider: Callable[[str], Any] | None) -> None:
        """Give what-if the live behaviour models (e.g. `PlantSimulator.asset_model`)."""
        self._model_provider = provider

    def what_if(self, path: str, load_profile: Any, seed: int = 0) -> dict[str, Any]:
        """Run the asset's simulation model forward under `load_profile` ([[duration_s, load_fraction], ...])."""
        from edgetwin.twin.whatif import run_what_if

        self._check_asset(path)
        return run_what_if(self._assets[path], load_profile, seed, provider=self._model_provider)

    def close(self) -> None:
        self.work_orders.close_db()


def _loads(p: str | None) -> Any:
    if not p:
        return {}
    try:
        return json.loads(p)
    except json.JSONDecodeError:
        return {"text": p}
