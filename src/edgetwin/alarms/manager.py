"""`AlarmManager`: evaluates plant.yaml alarms over samples batches and model events.

Input is the runtime's own batches (samples or events tables); output is an events table of
kind "alarm", one row per transition, so alarms land in the store and on every sink like any
other event. Operator actions (acknowledge, shelve, ...) return the same kind of table and
notify subscribers (the twin, the OPC UA server) through `subscribe`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from edgetwin.alarms.limits import LimitTracker, debounce
from edgetwin.alarms.state import AlarmError, AlarmState
from edgetwin.core.config import AlarmConfig
from edgetwin.core.quality import Quality
from edgetwin.core.schemas import EVENTS_SCHEMA, SAMPLES_SCHEMA, conform, make_events

log = logging.getLogger(__name__)

MODEL_EVENT_KINDS = ("anomaly", "diagnosis")
Listener = Callable[[dict[str, Any]], None]
Record = tuple[int, str, int, dict[str, Any]]  # ts_ns, source, severity, payload


def alarm_id_for(cfg: AlarmConfig) -> str:
    """`name` when given, else `<signal id>/hi`, `/lo` or `/hilo` from the limits."""
    if cfg.name:
        return cfg.name if "/" in cfg.name else f"{cfg.signal.rpartition('/')[0]}/{cfg.name}"
    suffix = (
        "hilo"
        if cfg.high is not None and cfg.low is not None
        else ("hi" if cfg.high is not None else "lo")
    )
    return f"{cfg.signal}/{suffix}"


def priority_for_severity(severity: int) -> str:
    """OPC UA severity 1..1000 back to an ISA-18.2 priority."""
    if severity >= 800:
        return "critical"
    if severity >= 600:
        return "high"
    if severity >= 300:
        return "medium"
    return "low"


def _now_ns() -> int:
    return time.time_ns()


class AlarmManager:
    """All alarms of a plant: configured limit alarms plus alarms raised by edge modules."""

    def __init__(self, configs: Iterable[AlarmConfig] = ()) -> None:
        self.configs: dict[str, AlarmConfig] = {}
        self._alarms: dict[str, AlarmState] = {}
        self._trackers: dict[str, LimitTracker] = {}
        self._by_signal: dict[str, list[str]] = {}
        self._listeners: list[Listener] = []
        self._lock = threading.RLock()
        for cfg in configs:
            aid = alarm_id_for(cfg)
            if aid in self.configs:
                raise AlarmError(
                    f"two alarms share the id {aid!r}; give one of them a distinct 'name'"
                )
            self.configs[aid] = cfg
            limit = cfg.high if cfg.high is not None else cfg.low
            self._alarms[aid] = AlarmState(
                alarm_id=aid,
                signal=cfg.signal,
                priority=cfg.priority,
                message=cfg.message or _default_message(cfg),
                limit=limit,
                source=cfg.signal.rpartition("/")[0],
            )
            self._trackers[aid] = LimitTracker()
            self._by_signal.setdefault(cfg.signal, []).append(aid)

    # -- queries ------------------------------------------------------------------------------

    def get(self, alarm_id: str) -> AlarmState:
        try:
            return self._alarms[alarm_id]
        except KeyError:
            raise AlarmError(
                f"unknown alarm {alarm_id!r}; list alarms with GET /api/alarms?all=true"
            ) from None

    def all(self) -> list[AlarmState]:
        return list(self._alarms.values())

    def active(self) -> list[AlarmState]:
        """Alarms an operator must see: enabled and not normal (active or unacknowledged)."""
        return [a for a in self._alarms.values() if a.annunciated]

    def for_source(self, source: str) -> list[AlarmState]:
        return [a for a in self._alarms.values() if a.source == source]

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(payload)` after every transition (payload as in the events table)."""
        self._listeners.append(listener)

    # -- evaluation ---------------------------------------------------------------------------

    def evaluate(self, table: pa.Table) -> pa.Table:
        """Run a samples or events batch through the alarms; return the transitions as events."""
        if "kind" in table.column_names:
            return self._evaluate_events(conform(table, EVENTS_SCHEMA, "events"))
        table = conform(table, SAMPLES_SCHEMA, "samples")
        records: list[Record] = []
        if table.num_rows and self._by_signal:
            table = table.unify_dictionaries().combine_chunks()
            sig = table.column("signal").chunk(0) if table.column("signal").num_chunks else None
            if sig is not None:
                records = self._evaluate_samples(table, sig)
        if table.num_rows:
            last_ts = int(table.column("ts").cast(pa.int64()).to_numpy().max())
            records += self._tick(last_ts)
        return self._emit(records)

    def _evaluate_samples(self, table: pa.Table, sig: pa.DictionaryArray) -> list[Record]:
        names = sig.dictionary.to_pylist()
        codes = sig.indices.to_numpy(zero_copy_only=False)
        ts_all = table.column("ts").chunk(0).cast(pa.int64()).to_numpy()
        val_all = table.column("value").chunk(0).to_numpy(zero_copy_only=False)
        q_all = table.column("quality").chunk(0).to_numpy()
        # int16 keys take numpy's radix sort: ~10x faster than int32 for 100k rows
        order = np.argsort(
            codes.astype(np.int16) if len(codes) and codes.max() < 32767 else codes, kind="stable"
        )
        sorted_codes = codes[order]
        records: list[Record] = []
        with self._lock:
            for code, name in enumerate(names):
                aids = self._by_signal.get(name)
                if not aids:
                    continue
                lo, hi = np.searchsorted(sorted_codes, [code, code + 1])
                rows = order[lo:hi]
                ts, val, q = ts_all[rows], val_all[rows], q_all[rows]
                keep = np.isfinite(val) & (q != int(Quality.BAD))  # bad data never raises or clears
                ts, val = ts[keep], val[keep]
                if len(ts) > 1 and np.any(np.diff(ts) < 0):
                    o = np.argsort(ts, kind="stable")
                    ts, val = ts[o], val[o]
                for aid in aids:
                    alarm = self._alarms[aid]
                    if alarm.mode == "out_of_service":
                        continue
                    for t, active, v in debounce(self.configs[aid], self._trackers[aid], ts, val):
                        records += self._tick(t)
                        change = alarm.set_condition(active, t, v)
                        if change:
                            records.append(_rec(t, alarm, change))
                    if len(val):
                        alarm.value = float(val[-1])
        return records

    def _evaluate_events(self, table: pa.Table) -> pa.Table:
        """Model-raised alarms: events of kind anomaly/diagnosis become (or clear) alarms."""
        kinds = table.column("kind").to_pylist()
        records: list[Record] = []
        if not any(k in MODEL_EVENT_KINDS for k in kinds):
            return self._emit(records)
        ts = table.column("ts").cast(pa.int64()).to_pylist()
        sources = table.column("source").to_pylist()
        sev = table.column("severity").to_pylist()
        payloads = table.column("payload").to_pylist()
        with self._lock:
            for i, kind in enumerate(kinds):
                if kind not in MODEL_EVENT_KINDS:
                    continue
                try:
                    p = json.loads(payloads[i]) if payloads[i] else {}
                except json.JSONDecodeError:
                    log.warning("event from %s has a payload that is not JSON; ignored", sources[i])
                    continue
                alarm = self._model_alarm(sources[i], kind, int(sev[i]), p)
                records += self._tick(ts[i])
                value = p.get("score", p.get("value", p.get("probability")))
                change = alarm.set_condition(bool(p.get("active", True)), ts[i], _as_float(value))
                if change:
                    records.append(_rec(ts[i], alarm, change))
        return self._emit(records)

    def _model_alarm(self, source: str, kind: str, severity: int, p: dict[str, Any]) -> AlarmState:
        module = str(p.get("module") or kind)
        aid = f"{source}/{module}" if module != kind else f"{source}/{kind}"
        alarm = self._alarms.get(aid)
        if alarm is None:
            alarm = AlarmState(
                alarm_id=aid,
                signal=str(p.get("signal", f"{source}/{kind}")),
                source=source,
                origin="model",
            )
            self._alarms[aid] = alarm
        alarm.priority = str(p.get("priority") or priority_for_severity(severity))
        label = p.get("label") or p.get("fault")
        alarm.message = str(
            p.get("message")
            or f"{kind} reported by module {module}" + (f": {label}" if label else "")
        )
        alarm.limit = _as_float(p.get("threshold"))
        alarm.extra = {
            k: p[k]
            for k in ("module", "window", "window_start", "window_end", "label", "fault", "kind")
            if k in p
        }
        alarm.extra.setdefault("kind", kind)
        return alarm

    def tick(self, now_ns: int | None = None) -> pa.Table:
        """Expire timed shelves; the runtime calls it on a timer so shelves end without data."""
        with self._lock:
            return self._emit(self._tick(_now_ns() if now_ns is None else now_ns))

    def _tick(self, now_ns: int) -> list[Record]:
        out = []
        for alarm in self._alarms.values():
            change = alarm.tick(now_ns)
            if change:
                out.append(_rec(now_ns, alarm, change))
        return out

    # -- operator actions ---------------------------------------------------------------------

    def acknowledge(
        self, alarm_id: str, user: str, comment: str = "", ts_ns: int | None = None
    ) -> pa.Table:
        return self._act(alarm_id, ts_ns, lambda a, t: a.acknowledge(t, user, comment))

    def shelve(
        self,
        alarm_id: str,
        user: str,
        duration_s: float | None = None,
        comment: str = "",
        ts_ns: int | None = None,
    ) -> pa.Table:
        """Shelve for `duration_s` seconds, or one-shot (until the condition clears) when None."""
        return self._act(alarm_id, ts_ns, lambda a, t: a.shelve(t, user, duration_s, comment))

    def unshelve(
        self, alarm_id: str, user: str, comment: str = "", ts_ns: int | None = None
    ) -> pa.Table:
        return self._act(alarm_id, ts_ns, lambda a, t: a.unshelve(t, user, comment))

    def suppress(
        self, alarm_id: str, on: bool = True, user: str = "system", ts_ns: int | None = None
    ) -> pa.Table:
        return self._act(alarm_id, ts_ns, lambda a, t: a.suppress(t, on, user))

    def set_out_of_service(
        self,
        alarm_id: str,
        on: bool = True,
        user: str = "system",
        comment: str = "",
        ts_ns: int | None = None,
    ) -> pa.Table:
        table = self._act(alarm_id, ts_ns, lambda a, t: a.set_out_of_service(t, on, user, comment))
        if on and alarm_id in self._trackers:
            self._trackers[alarm_id] = LimitTracker()  # start afresh when back in service
        return table

    def _act(
        self, alarm_id: str, ts_ns: int | None, action: Callable[[AlarmState, int], str]
    ) -> pa.Table:
        with self._lock:
            alarm = self.get(alarm_id)
            # Operator actions carry wall-clock time, but a replayed or simulated plant may run
            # ahead of it: never stamp an action before the transition it answers.
            t = max(_now_ns(), alarm.ts_ns + 1) if ts_ns is None else ts_ns
            change = action(alarm, t)
            return self._emit([_rec(t, alarm, change)])

    # -- output -------------------------------------------------------------------------------

    def _emit(self, records: list[Record]) -> pa.Table:
        if not records:
            return EVENTS_SCHEMA.empty_table()
        for _, _, _, p in records:
            for listener in self._listeners:
                try:
                    listener(p)
                except Exception:  # a broken subscriber must not stop alarm handling
                    log.exception("alarm listener failed")
        return make_events(
            np.array([r[0] for r in records], dtype=np.int64),
            [r[1] for r in records],
            "alarm",
            [r[2] for r in records],
            [r[3] for r in records],
        )


def _rec(ts_ns: int, alarm: AlarmState, change: str) -> Record:
    """Snapshot the alarm at the transition (later transitions in the batch must not leak in)."""
    return (int(ts_ns), alarm.source, alarm.severity, {**alarm.to_dict(), "transition": change})


def _default_message(cfg: AlarmConfig) -> str:
    parts = []
    if cfg.high is not None:
        parts.append(f"above {cfg.high:g}")
    if cfg.low is not None:
        parts.append(f"below {cfg.low:g}")
    return f"{cfg.signal} {' or '.join(parts)}"


def _as_float(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None
