"""Edge modules on live data: the one inference path from a signed module file to the twin.

A `ModuleMonitor` loads a module (signature verified), keeps the live inputs it needs per asset,
runs it through `edge.runtime.ModuleRunner` (latency budget, watchdog, input drift) and turns
outputs into derived samples and events that name the module, its version and the input window
— so every decision can be traced to the exact model and data behind it.

Two live contracts exist today, chosen by the monitor's `kind`:
- `diagnosis`: each burst of a waveform signal plus the asset's shaft speed → class label;
  publishes `<asset>/fault_prob` and a `diagnosis` event when one label holds `vote_share` of
  the last `vote_window` bursts and differs from the last one announced. A single 1-second
  window can be fooled (a load change, a noise burst); a vote over ten of them rarely is.
- `rul`: one row of scalar signals per cycle (in the module's raw column order) → RUL with its
  interval; publishes `<asset>/rul`, `<asset>/rul_lo`, `<asset>/rul_hi`. The monitor numbers
  each asset's cycles from the first complete row it sees (a model that reads the asset's age
  counts from there, so watch the asset from the start of its life, or replay its history from
  cycle 1) and keeps the first ``baseline_cycles`` rows beside the last ``window`` ones when the
  module reads change since start.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from edgetwin.core.config import MonitorConfig, PlantConfig
from edgetwin.core.errors import ConfigError
from edgetwin.core.schemas import make_events, make_samples

log = logging.getLogger(__name__)


@dataclass
class _DiagState:
    shaft_hz: float | None = None
    recent: deque[str] = field(default_factory=deque)
    announced: str | None = None


class ModuleMonitor:
    """Runs one edge module for a set of assets; see the module docstring for the contracts."""

    def __init__(
        self,
        plant: PlantConfig,
        module_path: str | Path,
        *,
        name: str,
        kind: str,
        assets: list[str] | None = None,
        signals: list[str] | None = None,
        speed_signal: str = "speed",
        speed_unit: str = "rpm",
        vote_window: int = 10,
        vote_share: float = 0.6,
        watchdog_ms: float | None = 1000.0,
        healthy_label: str = "normal",
    ) -> None:
        from edgetwin.edge import EdgeModule
        from edgetwin.edge.runtime import ModuleRunner

        self.name = name
        self.kind = kind
        self.module = EdgeModule.load(module_path)
        self.runner = ModuleRunner(self.module, watchdog_ms=watchdog_ms)
        manifest = self.module.manifest
        from edgetwin.trace.records import module_ref

        ref = module_ref(module_path)
        self.trace_ref = ref  # name, version, sha256, task, path: what the ledger records
        self.module_ref = {
            "module": ref["name"],
            "version": ref["version"],
            "sha256": ref["sha256"],
            "file": str(module_path),
        }
        self.assets = assets or [a.path for a in plant.assets]
        if vote_window < 1 or not 0.5 < vote_share <= 1.0:
            raise ConfigError(
                f"monitor {name!r}: vote_window must be >= 1 and vote_share in (0.5, 1] "
                f"(got {vote_window}, {vote_share})"
            )
        self.vote_window = vote_window
        self.vote_share = vote_share
        self.healthy_label = healthy_label
        self.speed_signal = speed_signal
        self.speed_scale = {"rpm": 1 / 60.0, "Hz": 1.0}.get(speed_unit)
        if self.speed_scale is None:
            raise ConfigError(
                f"monitor {name!r}: speed_unit must be 'rpm' or 'Hz' (got {speed_unit!r})"
            )
        post = manifest.postprocess or {}
        self.labels: list[str] = list((post.get("params") or {}).get("labels", []))
        self.signals = signals or []
        self._rate_hz = float(
            ((manifest.preprocess or {}).get("params") or {}).get("rate_hz", 12000.0)
        )
        self._diag: dict[str, _DiagState] = defaultdict(_DiagState)
        self._rows: dict[str, dict[int, dict[str, float]]] = defaultdict(dict)
        self._history: dict[str, deque[np.ndarray]] = {}
        self._first_rows: dict[str, list[np.ndarray]] = defaultdict(list)
        pre_params = (manifest.preprocess or {}).get("params") or {}
        self._window = int(pre_params.get("window", 30))
        self._baseline_cycles = int(pre_params.get("baseline_cycles") or 0)
        self._columns = self.signals
        if kind == "rul" and not self.signals:
            raise ConfigError(
                f"monitor {name!r}: kind rul needs 'signals:' listing the module's raw inputs in order"
            )

    @classmethod
    def from_config(cls, cfg: MonitorConfig, plant: PlantConfig) -> ModuleMonitor:
        if not cfg.module:
            raise ConfigError(
                f"monitor {cfg.name!r} (kind {cfg.kind}): set 'module:' to an edge module file"
            )
        path = Path(cfg.module)
        if not path.exists():
            raise ConfigError(
                f"monitor {cfg.name!r}: module file {path} not found; build one with "
                f"`edgetwin pdm train-{'rul' if cfg.kind == 'rul' else 'diagnosis'}`"
            )
        allowed = {
            "speed_signal",
            "speed_unit",
            "vote_window",
            "vote_share",
            "watchdog_ms",
            "healthy_label",
        }
        unknown = set(cfg.options) - allowed
        if unknown:
            raise ConfigError(
                f"monitor {cfg.name!r}: unknown option(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
            )
        return cls(
            plant,
            path,
            name=cfg.name,
            kind=cfg.kind,
            assets=cfg.assets or None,
            signals=cfg.signals or None,
            **cfg.options,
        )

    # -- pipeline hook ---------------------------------------------------------------------
    def process(self, table: pa.Table) -> list[pa.Table]:
        names = table.column_names
        if self.kind == "diagnosis":
            if "values" in names:
                return self._diagnose(table)
            if "value" in names:
                self._track_speed(table)
            return []
        if self.kind == "rul" and "value" in names:
            return self._rul(table)
        return []

    # -- diagnosis ---------------------------------------------------------------------------
    def _track_speed(self, table: pa.Table) -> None:
        signals = table.column("signal").cast(pa.string()).to_numpy(zero_copy_only=False)
        values = table.column("value").to_numpy()
        for path in self.assets:
            hits = np.flatnonzero(signals == f"{path}/{self.speed_signal}")
            if hits.size:
                self._diag[path].shaft_hz = float(values[hits[-1]]) * self.speed_scale  # type: ignore[operator]

    def _diagnose(self, table: pa.Table) -> list[pa.Table]:
        signals = table.column("signal").cast(pa.string()).to_pylist()
        ts = table.column("ts").cast(pa.int64()).to_pylist()
        values = table.column("values")
        out_ts: list[int] = []
        out_sig: list[str] = []
        out_val: list[float] = []
        events: list[pa.Table] = []
        for i, sid in enumerate(signals):
            path, _, sig_name = sid.rpartition("/")
            if path not in self.assets or (self.signals and sig_name not in self.signals):
                continue
            state = self._diag[path]
            if state.shaft_hz is None or state.shaft_hz <= 0:
                continue  # no speed yet, or stopped: there are no defect frequencies to look at
            burst = np.asarray(values[i].values.to_numpy(zero_copy_only=False), dtype=np.float64)
            result = self.runner.run_window(
                {"waveform": burst[None, :], "shaft_hz": np.array([state.shaft_hz])}
            )
            label = str(np.atleast_1d(result.output)[0])
            probs = np.asarray(next(iter(result.raw.values())), dtype=np.float64)[0]
            p_fault = (
                1.0 - float(probs[self.labels.index(self.healthy_label)])
                if self.healthy_label in self.labels
                else float("nan")
            )
            out_ts.append(ts[i])
            out_sig.append(f"{path}/fault_prob")
            out_val.append(p_fault)
            state.recent.append(label)
            while len(state.recent) > self.vote_window:
                state.recent.popleft()
            winner, votes = Counter(state.recent).most_common(1)[0]
            stable = (
                len(state.recent) == self.vote_window
                and votes >= self.vote_share * self.vote_window
            )
            label = winner
            if (
                stable
                and label != state.announced
                and not (state.announced is None and label == self.healthy_label)
            ):
                state.announced = label
                events.append(
                    make_events(
                        np.array([ts[i]]),
                        path,
                        "diagnosis",
                        500 if label != self.healthy_label else 200,
                        {
                            **self.module_ref,
                            "label": label,
                            "probabilities": {
                                lab: round(float(p), 4)
                                for lab, p in zip(self.labels, probs, strict=False)
                            },
                            "input": {
                                "signal": sid,
                                "window_ts_ns": ts[i],
                                "window_end_ns": ts[i] + int(burst.size / self._rate_hz * 1e9),
                                "samples": int(burst.size),
                                "shaft_hz": round(state.shaft_hz, 3),
                            },
                            "votes": {"count": votes, "of": self.vote_window},
                            "latency_ms": round(result.latency_ms, 3),
                            "message": f"{path}: {label.replace('_', ' ')} ({self.module_ref['module']})",
                        },
                    )
                )
        out: list[pa.Table] = []
        if out_ts:
            out.append(make_samples(np.asarray(out_ts, dtype=np.int64), out_sig, out_val))
        return out + events

    def last_label(self, path: str) -> str | None:
        state = self._diag.get(path)
        return None if state is None else state.announced

    # -- remaining useful life -------------------------------------------------------------
    def _rul(self, table: pa.Table) -> list[pa.Table]:
        from edgetwin.pdm.rul.module import predict_last

        signals = table.column("signal").cast(pa.string()).to_pylist()
        ts = table.column("ts").cast(pa.int64()).to_pylist()
        values = table.column("value").to_pylist()
        touched: set[str] = set()
        for sid, t, v in zip(signals, ts, values, strict=True):
            path, _, sig_name = sid.rpartition("/")
            if path in self.assets and sig_name in self._columns:
                self._rows[path].setdefault(t, {})[sig_name] = v
                touched.add(path)
        out_ts: list[int] = []
        out_sig: list[str] = []
        out_val: list[float] = []
        for path in sorted(touched):
            rows = self._rows[path]
            complete = sorted(t for t, r in rows.items() if len(r) == len(self._columns))
            history = self._history.setdefault(path, deque(maxlen=self._window))
            first = self._first_rows[path]
            for t in complete:
                row = rows.pop(t)
                # full rows (unit, cycle, raw...): the module's pre-step reads the cycle number,
                # one more than the last kept row's
                cycle = history[-1][1] + 1 if history else 1.0
                full = np.array([0.0, cycle, *(row[c] for c in self._columns)], dtype=np.float64)
                history.append(full)
                if len(first) < self._baseline_cycles:
                    first.append(full)
            if not complete:
                continue
            before_window = [r for r in first if r[1] < history[0][1]]
            rul, lo, hi = predict_last(self.module, np.vstack(before_window + list(history)))
            t_last = complete[-1]
            out_ts += [t_last] * 3
            out_sig += [f"{path}/rul", f"{path}/rul_lo", f"{path}/rul_hi"]
            out_val += [rul, lo, hi]
        if not out_ts:
            return []
        return [make_samples(np.asarray(out_ts, dtype=np.int64), out_sig, out_val)]

    def metrics(self) -> dict[str, Any]:
        return self.runner.metrics()
