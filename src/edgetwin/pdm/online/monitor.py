"""The streaming anomaly monitor the runtime runs per asset.

Each asset's signals are summarised into one feature row per window (`window_s`); the first
`fit_s` seconds of windows after a `warmup_s` start-up transient are the healthy reference and a PCA T²/Q model is fitted
on them; every later window gets a score (1.0 = the 1-alpha limit) and a health (1 = healthy,
0 = far outside). An `anomaly` event opens only after `persist` consecutive windows over 1.0
and closes after `persist` windows back under `clear_below` — the persistence is what keeps
healthy assets free of false events over a long run.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from edgetwin.core.config import PlantConfig
from edgetwin.core.schemas import make_events, make_samples
from edgetwin.pdm.online.pca import PCAT2Q
from edgetwin.pdm.online.window_features import (
    BURST_FEATURES,
    scalar_window_sums,
    waveform_window_features,
)

log = logging.getLogger(__name__)

MODULE_ID = "anomaly-pca-t2q"  # the alarm id is <asset>/<module>: keep it readable


def health_from_score(score: float) -> float:
    """1 up to the alarm limit, then down a log scale: 0.75 at 10x, 0.5 at 100x, 0 at 10,000x.

    Scores of a growing fault span decades (a spall takes the score from 3 to 1,000 on its way
    to failure), so a log scale keeps health informative all the way instead of hitting 0 early.
    """
    return float(np.clip(1.0 - math.log10(max(score, 1.0)) / 4.0, 0.0, 1.0))


@dataclass
class _AssetState:
    features: list[str]
    open_windows: dict[int, dict[str, list[float]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    last_row: np.ndarray | None = None
    fit_rows: list[np.ndarray] = field(default_factory=list)
    seen_windows: int = 0
    model: PCAT2Q | None = None
    over: int = 0
    under: int = 0
    in_anomaly: bool = False
    opened_at_ns: int | None = None
    first_opened_ns: int | None = None
    model_sha256: str = ""
    model_version: str = ""
    max_scalar: int = -1
    max_wave: int = -1
    wave_lag: int = 0  # windows a burst may trail the scalars (every_s / window_s)
    has_waves: bool = False

    def watermark(self) -> int:
        """Windows below this are complete: both the scalars and the bursts have moved past."""
        if not self.has_waves:
            return self.max_scalar
        return min(self.max_scalar, self.max_wave + self.wave_lag)

    scores: list[tuple[int, float]] = field(default_factory=list)


class AnomalyMonitor:
    """Online PCA T²/Q per asset; `process(table)` returns derived samples and events."""

    def __init__(
        self,
        plant: PlantConfig,
        *,
        name: str = "anomaly",
        assets: list[str] | None = None,
        window_s: float = 60.0,
        fit_s: float = 3600.0,
        warmup_s: float = 600.0,
        alpha: float = 1e-3,
        persist: int = 3,
        clear_below: float = 0.8,
        variance: float = 0.9,
    ) -> None:
        self.name = name
        self.window_ns = int(window_s * 1e9)
        self.fit_windows = max(int(math.ceil(fit_s / window_s)), 8)
        self.warmup_windows = int(math.ceil(warmup_s / window_s))
        self.alpha = alpha
        self.persist = persist
        self.clear_below = clear_below
        self.variance = variance
        wanted = set(assets or [a.path for a in plant.assets])
        self._asset_of: dict[str, str] = {}
        self._assets: dict[str, _AssetState] = {}
        for asset in plant.assets:
            if asset.path not in wanted or not asset.signals:
                continue
            names: list[str] = []
            lag = 0
            for sig in asset.signals:
                if sig.kind == "scalar":
                    names.append(sig.name)
                else:
                    names.extend(f"{sig.name}.{f}" for f in BURST_FEATURES)
                    lag = max(lag, math.ceil((sig.every_s or window_s) / window_s))
                self._asset_of[asset.signal_id(sig.name)] = asset.path
            self._assets[asset.path] = _AssetState(
                features=names,
                wave_lag=lag,
                has_waves=any(s.kind == "waveform" for s in asset.signals),
            )

    # -- ingest ----------------------------------------------------------------------------
    def process(self, table: pa.Table) -> list[pa.Table]:
        names = table.column_names
        touched: set[str] = set()
        if "values" in names:
            for signal, bucket, feats in waveform_window_features(table, self.window_ns):
                owner = self._asset_of.get(signal)
                if owner is None:
                    continue
                state = self._assets[owner]
                sig_name = signal.rsplit("/", 1)[-1]
                window = state.open_windows[bucket]
                for fname, value in zip(BURST_FEATURES, feats, strict=True):
                    window.setdefault(f"{sig_name}.{fname}", []).append(float(value))
                state.max_wave = max(state.max_wave, bucket)
                touched.add(owner)
        elif "value" in names:
            for signal, bucket, total, count in scalar_window_sums(table, self.window_ns):
                owner = self._asset_of.get(signal)
                if owner is None or count == 0:
                    continue
                state = self._assets[owner]
                state.open_windows[bucket].setdefault(signal.rsplit("/", 1)[-1], []).append(
                    total / count
                )
                state.max_scalar = max(state.max_scalar, bucket)
                touched.add(owner)
        out: list[pa.Table] = []
        for path in sorted(touched):
            out.extend(self._close_windows(path, before=self._assets[path].watermark()))
        return out

    def flush(self) -> list[pa.Table]:
        """Close every open window (end of a run)."""
        out: list[pa.Table] = []
        for path, state in self._assets.items():
            out.extend(self._close_windows(path, before=max(state.max_scalar, state.max_wave) + 1))
        return out

    # -- windows → scores --------------------------------------------------------------------
    def _close_windows(self, path: str, before: int) -> list[pa.Table]:
        state = self._assets[path]
        ready = sorted(b for b in state.open_windows if b < before)
        ts, scores, healths = [], [], []
        events: list[pa.Table] = []
        for bucket in ready:
            parts = state.open_windows.pop(bucket)
            row = self._row(state, parts)
            if row is None:
                continue
            end_ns = (bucket + 1) * self.window_ns
            state.seen_windows += 1
            if state.model is None:
                if state.seen_windows <= self.warmup_windows:
                    continue
                state.fit_rows.append(row)
                if len(state.fit_rows) >= self.fit_windows:
                    events.append(self._fit(path, state, end_ns))
                continue
            score = float(state.model.score_samples(row)[0])
            state.scores.append((end_ns, score))
            ts.append(end_ns)
            scores.append(score)
            healths.append(health_from_score(score))
            event = self._update_alarm(path, state, row, score, bucket)
            if event is not None:
                events.append(event)
        out: list[pa.Table] = []
        if ts:
            n = len(ts)
            t = np.asarray(ts + ts, dtype=np.int64)
            sig = [f"{path}/anomaly_score"] * n + [f"{path}/health"] * n
            out.append(make_samples(t, sig, np.asarray(scores + healths)))
        out.extend(events)
        return out

    def _row(self, state: _AssetState, parts: dict[str, list[float]]) -> np.ndarray | None:
        """Feature row in fixed order; a feature missing this window carries its last value."""
        row = np.full(len(state.features), np.nan)
        for i, fname in enumerate(state.features):
            vals = parts.get(fname)
            if vals:
                row[i] = float(np.mean(vals))
        if state.last_row is not None:
            missing = np.isnan(row)
            row[missing] = state.last_row[missing]
        if np.isnan(row).any():
            return None  # still warming up: not every signal seen yet
        state.last_row = row
        return row

    def _fit(self, path: str, state: _AssetState, end_ns: int) -> pa.Table:
        X = np.vstack(state.fit_rows)
        state.model = PCAT2Q(variance=self.variance, alpha=self.alpha).fit(X)
        state.model_sha256 = state.model.fingerprint()
        state.model_version = f"fitted@{end_ns}"
        log.info(
            "%s: anomaly model fitted on %d windows, %d components",
            path,
            len(X),
            state.model.n_components_,
        )
        return make_events(
            np.array([end_ns]),
            path,
            "model_fitted",
            100,
            {
                "module": MODULE_ID,
                "windows": len(X),
                "components": state.model.n_components_,
                "features": state.features,
                "alpha": self.alpha,
            },
        )

    def _update_alarm(
        self, path: str, state: _AssetState, row: np.ndarray, score: float, bucket: int
    ) -> pa.Table | None:
        assert state.model is not None
        end_ns = (bucket + 1) * self.window_ns
        if score > 1.0:
            state.over += 1
            state.under = 0
        elif score < self.clear_below:
            state.under += 1
            state.over = 0
        if not state.in_anomaly and state.over >= self.persist:
            state.in_anomaly = True
            state.opened_at_ns = end_ns
            if state.first_opened_ns is None:
                state.first_opened_ns = end_ns
            contrib = state.model.contributions(row)
            top = np.argsort(contrib)[::-1][:3]
            return make_events(
                np.array([end_ns]),
                path,
                "anomaly",
                600,
                {
                    "module": MODULE_ID,
                    "version": state.model_version,
                    "sha256": state.model_sha256,
                    "score": round(score, 3),
                    "window_start_ns": end_ns - self.persist * self.window_ns,
                    "window_end_ns": end_ns,
                    "top_features": {state.features[i]: round(float(contrib[i]), 3) for i in top},
                    "message": f"{path}: multivariate anomaly, score {score:.1f}",
                },
            )
        if state.in_anomaly and state.under >= self.persist:
            state.in_anomaly = False
            return make_events(
                np.array([end_ns]),
                path,
                "anomaly_cleared",
                200,
                {"module": MODULE_ID, "score": round(score, 3), "opened_at_ns": state.opened_at_ns},
            )
        return None

    # -- reporting -------------------------------------------------------------------------
    def first_anomaly_ns(self, path: str) -> int | None:
        state = self._assets.get(path)
        return None if state is None else state.first_opened_ns

    def latest_score(self, path: str) -> float | None:
        state = self._assets.get(path)
        if state is None or not state.scores:
            return None
        return state.scores[-1][1]
