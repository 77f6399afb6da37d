"""PlantSimulator: every simulated asset of a plant config, stepped faster than real time.

`step(dt_s)` advances plant time by dt and returns the rows of (now, now + dt]: one samples
table (every scalar signal at its own rate_hz, on the grid k / rate_hz since start) and one
waveforms table (each burst whose last sample falls in the interval; its `ts` is the burst's
first sample, bursts start at k * every_s; none while the machine is stopped). Empty tables are left out of the list. Sample rows
are grouped by asset and signal, time-ordered within a signal. All noise is
addressed by sample index and burst number, so the data do not depend on how the run is
chunked into steps: step(60) once equals step(1) sixty times.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from edgetwin.core.config import PlantConfig
from edgetwin.core.errors import ConfigError
from edgetwin.core.schemas import SIGNAL_TYPE, make_samples, make_waveforms
from edgetwin.sim.degradation import GroundTruth
from edgetwin.sim.motor_pump import MotorPump
from edgetwin.sim.params import parse_model_params

log = logging.getLogger(__name__)

SIMULATED_KINDS = ("motor_pump", "fan")


# Scalars are computed this many seconds ahead and served from a buffer, so stepping in small
# increments (1 s) costs a slice rather than a fresh evaluation of the physics per step. The
# data are the same either way: noise is indexed by sample and thermal lags run in order.
READ_AHEAD_S = 60.0


@dataclass
class _Scalars:
    """The scalar signals of one asset that share one sampling rate, with a read-ahead buffer."""

    model: MotorPump
    names: list[str]
    rate_hz: float
    period_ns: int
    index: np.ndarray  # positions in the samples dictionary, int32
    buf_k0: int = 1  # sample index of the buffer's first column
    buf: np.ndarray | None = None  # (len(names), n) values of samples buf_k0 ..

    def take(self, k0: int, k1: int) -> np.ndarray:
        """Values of samples k0..k1 (inclusive), computing ahead in READ_AHEAD_S chunks."""
        have = 0 if self.buf is None else self.buf.shape[1]
        if k0 != self.buf_k0:
            raise RuntimeError(f"scalar samples taken out of order: {k0} after {self.buf_k0 - 1}")
        if k1 >= self.buf_k0 + have:
            start = self.buf_k0 + have
            end = max(k1, start + max(1, round(READ_AHEAD_S * self.rate_hz)) - 1)
            t = np.arange(start, end + 1, dtype=np.int64) * self.period_ns / 1e9
            fresh = self.model.scalars(self.names, self.rate_hz, start, t)
            self.buf = fresh if self.buf is None or have == 0 else np.hstack([self.buf, fresh])
        assert self.buf is not None
        n = k1 - k0 + 1
        out = self.buf[:, :n]
        self.buf = self.buf[:, n:]
        self.buf_k0 = k1 + 1
        return out


@dataclass
class _Wave:
    model: MotorPump
    name: str
    signal_id: str
    rate_hz: float
    n_samples: int
    every_ns: int
    burst_ns: int


class PlantSimulator:
    """Seeded, vectorised simulation of a plant's assets that knows its own ground truth.

    plant: a validated PlantConfig; every asset with a `model` is simulated (or exactly `assets`,
    when given); assets without a model are left to other sources, and so are signals whose
    `source` names a source other than `source` (default: any `kind: sim` source). seed: the whole run is a function of it. start_ns: epoch ns of plant
    time 0 (default: now, whole second).
    """

    def __init__(
        self,
        plant: PlantConfig,
        seed: int = 0,
        start_ns: int | None = None,
        assets: list[str] | None = None,
        source: str | None = None,
    ) -> None:
        self.plant = plant
        self.seed = int(seed)
        self.start_ns = int(start_ns if start_ns is not None else time.time_ns() // 10**9 * 10**9)
        self._elapsed_ns = 0
        self._models: dict[str, MotorPump] = {}
        sim_sources = {source} if source else {s.name for s in plant.sources if s.kind == "sim"}
        chosen = [plant.asset(p) for p in assets] if assets else plant.assets
        for asset in chosen:
            kind = asset.model.get("kind")
            if kind not in SIMULATED_KINDS:
                # No model at all: an asset fed by another source (a camera, a PLC). A model with
                # a kind we do not know is a typo the user wants to hear about.
                if assets or asset.model:
                    raise ConfigError(
                        f"{asset.path}: model.kind={kind!r} cannot be simulated; "
                        f"use one of {list(SIMULATED_KINDS)}"
                    )
                log.debug("sim: skipping %s (model.kind=%r)", asset.path, kind)
                continue
            params = parse_model_params(asset.path, asset.model)
            # A stable per-asset stream: the same asset gives the same data in any plant.
            index = zlib.crc32(asset.path.encode())
            mine = [s.name for s in asset.signals if s.source is None or s.source in sim_sources]
            self._models[asset.path] = MotorPump(asset, params, self.seed, index, signals=mine)
        if not self._models:
            raise ConfigError(
                f"plant {plant.name!r} has no simulated assets; give an asset "
                f"model.kind in {list(SIMULATED_KINDS)}"
            )
        self._scalars: list[_Scalars] = []
        self._waves: list[_Wave] = []
        ids: list[str] = []
        for model in self._models.values():
            by_rate: dict[float, list[str]] = {}
            for sig in model.signals:
                if sig.kind == "scalar":
                    by_rate.setdefault(sig.rate_hz, []).append(sig.name)
                else:
                    n = max(1, round(float(sig.burst_s or 0) * sig.rate_hz))
                    self._waves.append(
                        _Wave(
                            model,
                            sig.name,
                            model.asset.signal_id(sig.name),
                            sig.rate_hz,
                            n,
                            round(float(sig.every_s or 0) * 1e9),
                            round(n / sig.rate_hz * 1e9),
                        )
                    )
            for rate, names in by_rate.items():
                positions = np.arange(len(ids), len(ids) + len(names), dtype=np.int32)
                ids.extend(model.asset.signal_id(n) for n in names)
                self._scalars.append(_Scalars(model, names, rate, round(1e9 / rate), positions))
        self._dictionary = pa.array(ids, type=pa.string())

    @classmethod
    def for_source(
        cls, plant: PlantConfig, source: str = "sim", start_ns: int | None = None
    ) -> PlantSimulator:
        """Build the simulator a `kind: sim` source of plant.yaml describes (its seed, assets)."""
        matches = [s for s in plant.sources if s.name == source]
        if not matches or matches[0].kind != "sim":
            raise ConfigError(
                f"plant {plant.name!r} has no source named {source!r} of kind 'sim'; add "
                f"'sources: [{{name: {source}, kind: sim, seed: 0}}]'"
            )
        cfg = matches[0]
        seed = cfg.options.get("seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ConfigError(f"sources[{source}].seed={seed!r}: give a whole number >= 0")
        return cls(plant, seed=seed, start_ns=start_ns, assets=cfg.assets or None, source=source)

    # ---- time ---------------------------------------------------------------------------
    @property
    def now_ns(self) -> int:
        """Epoch ns the simulation has reached."""
        return self.start_ns + self._elapsed_ns

    @property
    def elapsed_s(self) -> float:
        return self._elapsed_ns / 1e9

    @property
    def assets(self) -> list[str]:
        return list(self._models)

    def signal_ids(self) -> list[str]:
        """Every signal id this simulator produces (scalar first, then waveforms)."""
        return self._dictionary.to_pylist() + [w.signal_id for w in self._waves]

    # ---- stepping -----------------------------------------------------------------------
    def step(self, dt_s: float) -> list[pa.Table]:
        """Advance by `dt_s` plant seconds; return [samples, waveforms] of (now, now + dt]."""
        if not dt_s > 0:
            raise ConfigError(f"dt_s={dt_s}: the simulator steps forward by a positive time")
        old = self._elapsed_ns
        new = old + round(dt_s * 1e9)
        out: list[pa.Table] = []
        samples = self._step_samples(old, new)
        if samples is not None:
            out.append(samples)
        out.extend(self._step_waveforms(old, new))
        self._elapsed_ns = new
        for model in self._models.values():
            model.t_s = new / 1e9
        return out

    def _step_samples(self, old: int, new: int) -> pa.Table | None:
        ts_parts: list[np.ndarray] = []
        val_parts: list[np.ndarray] = []
        idx_parts: list[np.ndarray] = []
        for s in self._scalars:
            k0 = old // s.period_ns + 1
            k1 = new // s.period_ns
            if k1 < k0:
                continue
            t_ns = np.arange(k0, k1 + 1, dtype=np.int64) * s.period_ns
            values = s.take(int(k0), int(k1))
            ts_parts.append(np.tile(t_ns, len(s.names)))
            val_parts.append(values.ravel())
            idx_parts.append(np.repeat(s.index, len(t_ns)))
        if not ts_parts:
            return None
        ts = np.concatenate(ts_parts) + self.start_ns
        signal = pa.DictionaryArray.from_arrays(
            pa.array(np.concatenate(idx_parts), type=pa.int32()), self._dictionary
        )
        return make_samples(ts, signal.cast(SIGNAL_TYPE), np.concatenate(val_parts))

    def _step_waveforms(self, old: int, new: int) -> list[pa.Table]:
        # One table per burst shape (make_waveforms needs equal-length rows).
        groups: dict[tuple[int, float], tuple[list[np.ndarray], list[str], list[np.ndarray]]] = {}
        for w in self._waves:
            # bursts whose end (start + burst) lies in (old, new]
            k0 = max(1, -(-(old + 1 - w.burst_ns) // w.every_ns))
            k1 = (new - w.burst_ns) // w.every_ns
            if k1 < k0:
                continue
            k = np.arange(k0, k1 + 1, dtype=np.int64)
            t0_ns = k * w.every_ns
            # Like a condition-monitoring system, acquire only while the machine turns: a burst
            # of a stopped (tripped) machine is sensor noise that no analysis can use.
            running = w.model.speed_frac((t0_ns + w.burst_ns // 2) / 1e9) > 0
            if not running.all():
                k, t0_ns = k[running], t0_ns[running]
                if len(k) == 0:
                    continue
            ts, ids, blocks = groups.setdefault((w.n_samples, w.rate_hz), ([], [], []))
            ts.append(t0_ns + self.start_ns)
            ids.extend([w.signal_id] * len(k))
            blocks.append(w.model.bursts(w.name, w.n_samples, k, t0_ns / 1e9))
        return [
            make_waveforms(np.concatenate(ts), ids, rate, np.concatenate(blocks))
            for (_, rate), (ts, ids, blocks) in groups.items()
        ]

    # ---- ground truth -------------------------------------------------------------------
    def ground_truth(self) -> dict[str, GroundTruth]:
        """Per asset path: fault mode, onset and failure (plant s), severity and health curves."""
        return {path: m.ground_truth() for path, m in self._models.items()}

    def failed(self, asset_path: str) -> bool:
        """True once the asset has reached its failure time (its drive has tripped)."""
        return self.asset_model(asset_path).failed_at(self.elapsed_s)

    def asset_model(self, path: str) -> MotorPump:
        """The live behaviour model of one asset (for what-if: `simulate_time_to_failure`)."""
        try:
            return self._models[path]
        except KeyError:
            raise ConfigError(
                f"asset {path!r} is not simulated; simulated assets: {list(self._models)}"
            ) from None
