"""A VFD-driven motor-pump (or fan) set: process signals coupled to load, speed and faults.

The line sets a speed fraction n (the duty cycle in `load.py`). Pump affinity laws give flow
~ n, head ~ n^2, shaft power ~ n^3; the motor draws active current from power and efficiency
plus a constant magnetising current (V/f control keeps the flux); winding and bearing
temperatures are first-order thermal lags (exact discretisation, run with `lfilter`) driven by
copper/iron losses and by bearing friction that grows with fault severity. Cavitation lowers
head and flow and makes pressure and flow noisy. After failure the drive trips: speed 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from typing import Any

import numpy as np
from scipy import signal as sps

from edgetwin.core.assets import Asset, Signal
from edgetwin.core.errors import ConfigError
from edgetwin.sim.degradation import Degradation, GroundTruth
from edgetwin.sim.load import LoadProfile
from edgetwin.sim.noise import IndexedNoise
from edgetwin.sim.params import MotorPumpParams
from edgetwin.sim.vibration import VibrationModel

G = 9.80665

# Unit conversions from the model's native unit: (native, {unit: (scale, offset)}).
_UNITS: dict[str, tuple[str, dict[str, tuple[float, float]]]] = {
    "speed": ("rpm", {"rpm": (1.0, 0.0), "Hz": (1 / 60, 0.0)}),
    "flow": ("m3/h", {"m3/h": (1.0, 0.0), "L/min": (1000 / 60, 0.0), "L/s": (1 / 3.6, 0.0)}),
    "pressure": (
        "bar",
        {
            "bar": (1.0, 0.0),
            "kPa": (100.0, 0.0),
            "Pa": (1e5, 0.0),
            "MPa": (0.1, 0.0),
            "psi": (14.5038, 0.0),
        },
    ),
    "current": ("A", {"A": (1.0, 0.0)}),
    "power": ("kW", {"kW": (1.0, 0.0), "W": (1000.0, 0.0)}),
    "temp": ("degC", {"degC": (1.0, 0.0), "K": (1.0, 273.15), "degF": (1.8, 32.0)}),
    "vib": ("g", {"g": (1.0, 0.0), "m/s2": (G, 0.0)}),
}

# signal name -> (quantity, measurement noise sigma as a function of params)
SCALAR_SIGNALS: dict[str, tuple[str, Callable[[MotorPumpParams], float]]] = {
    "speed": ("speed", lambda p: 0.0005 * p.rated_speed_rpm),
    "flow": ("flow", lambda p: 0.006 * p.rated_flow_m3h),
    "pressure_out": ("pressure", lambda p: 0.004 * p.fluid_density * G * p.rated_head_m / 1e5),
    "pressure_in": ("pressure", lambda p: 0.004 * max(abs(p.suction_bar), 0.1)),
    "motor_current": ("current", lambda p: 0.005 * _rated_current(p)),
    "power": ("power", lambda p: 0.005 * p.rated_power_kw),
    "motor_temp": ("temp", lambda p: 0.08),
    "bearing_temp": ("temp", lambda p: 0.08),
}
_NON_NEGATIVE = frozenset({"speed", "flow", "motor_current", "power"})
WAVEFORM_SIGNALS = {"vib_de": "de", "vib_nde": "nde"}

# How much extra bearing friction heat each fault mode makes at severity 1 (x bearing_fault_rise_k).
_BEARING_HEAT = {
    "outer_race": 1.0,
    "inner_race": 1.0,
    "ball": 0.8,
    "misalignment": 0.8,
    "imbalance": 0.4,
}

# Extra shaft power (fraction of rated) that each fault mode costs at severity 1.
_FRICTION = {
    "outer_race": 0.02,
    "inner_race": 0.02,
    "ball": 0.02,
    "misalignment": 0.04,
    "imbalance": 0.01,
}


def _rated_current(p: MotorPumpParams) -> float:
    return (
        p.rated_power_kw
        * 1000.0
        / (p.motor_efficiency * math.sqrt(3) * p.voltage_v * p.power_factor)
    )


def _convert(quantity: str, unit: str, asset: str, signal: str) -> tuple[float, float]:
    native, table = _UNITS[quantity]
    if unit not in table:
        raise ConfigError(
            f"{asset}: signal {signal!r} has unit {unit!r}, which the simulator cannot produce; "
            f"use one of {sorted(table)} (native {native})"
        )
    return table[unit]


class MotorPump:
    """Behaviour model of one asset: the live simulator state and a stand-alone what-if model."""

    def __init__(
        self,
        asset: Asset,
        params: MotorPumpParams,
        seed: int,
        asset_index: int,
        signals: Collection[str] | None = None,
        strict: bool = True,
    ) -> None:
        """`signals`: names to simulate (default: all of the asset's). `strict`: refuse a signal
        the model cannot produce (name or unit); False skips it, for stand-alone what-if use on
        an asset whose other signals come from real sources."""
        self.asset = asset
        self.path = asset.path
        self.params = params
        self.key = [seed, asset_index]
        self.load = LoadProfile(params.load, [seed, asset_index, 1])
        self.degradation = Degradation(
            params.fault, self.load, params.rated_life_h * 3600.0, [seed, asset_index, 2]
        )
        self.t_s = 0.0  # plant time the simulator has reached for this asset
        self.i_rated = _rated_current(params)
        self.signals: list[Signal] = []
        self._thermal: dict[str, float] = {}
        self._sigma = {name: fn(params) for name, (_, fn) in SCALAR_SIGNALS.items()}
        self._noise: dict[str, IndexedNoise] = {}
        self._vib: dict[str, VibrationModel] = {}
        self._scale: dict[str, tuple[float, float]] = {}
        self._sig_index: dict[str, int] = {}
        for sig_index, sig in enumerate(asset.signals):
            if signals is not None and sig.name not in signals:
                continue
            try:
                self._scale[sig.name] = self._check(sig)
            except ConfigError:
                if strict:
                    raise
                continue
            if sig.kind == "waveform":
                self._vib[sig.name] = VibrationModel(
                    params, sig.rate_hz, WAVEFORM_SIGNALS[sig.name]
                )
            # noise keyed by the signal's position in the asset, stable whatever else is simulated
            self._noise[sig.name] = IndexedNoise([seed, asset_index, 3, sig_index])
            self._sig_index[sig.name] = sig_index
            self.signals.append(sig)

    def _check(self, sig: Signal) -> tuple[float, float]:
        """(scale, offset) from native units to the signal's unit; ConfigError if impossible."""
        known = SCALAR_SIGNALS if sig.kind == "scalar" else WAVEFORM_SIGNALS
        if sig.name not in known:
            raise ConfigError(
                f"{self.path}: {sig.kind} signal {sig.name!r} is not produced by model "
                f"{self.params.kind!r}; use one of {sorted(known)}"
            )
        quantity = SCALAR_SIGNALS[sig.name][0] if sig.kind == "scalar" else "vib"
        return _convert(quantity, sig.unit, self.path, sig.name)

    # ---- ground truth -------------------------------------------------------------------
    @property
    def failure_s(self) -> float | None:
        return self.params.fault.failure_s if self.params.fault else None

    def failed_at(self, t_s: float) -> bool:
        return self.failure_s is not None and t_s >= self.failure_s

    def ground_truth(self) -> GroundTruth:
        f = self.params.fault
        return GroundTruth(
            asset=self.path,
            fault_mode=f.mode if f else "none",
            onset_s=f.onset_s if f else None,
            failure_s=f.failure_s if f else None,
            _degradation=self.degradation,
        )

    # ---- physics ------------------------------------------------------------------------
    def speed_frac(self, t: np.ndarray) -> np.ndarray:
        n = self.load.at(t)
        if self.failure_s is not None:
            n = np.where(t >= self.failure_s, 0.0, n)
        return n

    def ambient(self, t: np.ndarray) -> np.ndarray:
        return self.params.ambient_c + self.params.ambient_swing_c * np.sin(
            2.0 * math.pi * t / 86400.0 - math.pi / 2
        )

    def operating_point(self, t: np.ndarray) -> dict[str, np.ndarray]:
        """Noise-free process state at plant seconds `t` (native units)."""
        p = self.params
        n = self.speed_frac(t)
        sev = self.degradation.severity_at(t)
        mode = self.degradation.mode
        running = (n > 0).astype(float)
        cav = sev if mode == "cavitation" else np.zeros_like(sev)
        head_m = p.rated_head_m * n * n * (1.0 - 0.3 * cav)
        flow = p.rated_flow_m3h * n * (1.0 - 0.15 * cav)
        dp_bar = p.fluid_density * G * head_m / 1e5
        friction = _FRICTION.get(mode, 0.0)
        shaft_kw = p.rated_power_kw * (n**3 * (1.0 - 0.1 * cav) + friction * sev * n)
        active = shaft_kw / p.rated_power_kw * math.sqrt(1.0 - p.magnetizing_fraction**2)
        current = self.i_rated * np.sqrt(active**2 + (p.magnetizing_fraction * running) ** 2)
        amb = self.ambient(t)
        rel_i = current / self.i_rated
        motor_ss = amb + p.motor_rise_k * (0.3 * running + 0.7 * rel_i**2)
        heat = _BEARING_HEAT.get(mode, 0.0)
        bearing_ss = amb + n * (p.bearing_rise_k + p.bearing_fault_rise_k * heat * sev)
        return {
            "speed": n * p.rated_speed_rpm,
            "flow": flow,
            "pressure_out": p.suction_bar + dp_bar,
            "pressure_in": p.suction_bar - 0.02 * n * n,
            "motor_current": current,
            "power": shaft_kw / p.motor_efficiency,
            "motor_temp": motor_ss,
            "bearing_temp": bearing_ss,
            "cavitation": cav,
        }

    def scalars(self, names: list[str], rate_hz: float, k_first: int, t: np.ndarray) -> np.ndarray:
        """Scalar signals `names` at sample indices k_first.. (times `t`, plant s), in their
        configured units; one row per name. One evaluation of the physics serves them all."""
        op = self.operating_point(t)
        out = np.empty((len(names), len(t)))
        for row, name in enumerate(names):
            x = op[name]
            if name in ("motor_temp", "bearing_temp"):
                tau = self.params.motor_tau_s if name == "motor_temp" else self.params.bearing_tau_s
                alpha = math.exp(-1.0 / (rate_hz * tau))
                # Start at the first instant's steady state: the plant has been running a while.
                y0 = self._thermal.get(name, float(x[0]))
                x, _ = sps.lfilter([1.0 - alpha], [1.0, -alpha], x, zi=[alpha * y0])
                self._thermal[name] = float(x[-1])
            sigma: float | np.ndarray = self._sigma[name]
            if name in ("flow", "pressure_out") and self.degradation.mode == "cavitation":
                sigma = sigma * (1.0 + 6.0 * op["cavitation"])
            x = x + sigma * self._noise[name].take(k_first, len(t))
            if name in _NON_NEGATIVE:
                x = np.maximum(x, 0.0)  # a stopped machine reads zero, not negative noise
            scale, offset = self._scale[name]
            out[row] = x * scale + offset
        return out

    def bursts(self, name: str, n_samples: int, k: np.ndarray, t0: np.ndarray) -> np.ndarray:
        """Bursts number `k` of waveform `name`, starting at plant seconds `t0`; (len(k), n)."""
        model = self._vib[name]
        mid = t0 + 0.5 * n_samples / model.rate_hz
        n = self.speed_frac(mid)
        sev = self.degradation.severity_at(mid)
        sig_index = self._sig_index[name]
        rngs = [np.random.default_rng([*self.key, 4, sig_index, int(b)]) for b in k]
        block = model.bursts(n_samples, n, self.degradation.mode, sev, rngs)
        scale, _ = self._scale[name]
        return block if scale == 1.0 else block * np.float32(scale)

    # ---- what-if ------------------------------------------------------------------------
    def damage_now(self) -> float:
        return float(self.degradation.damage_at(self.t_s)[0])

    def describe(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.params.kind,
            "fault_mode": self.degradation.mode,
            "damage": self.damage_now(),
            "life_s_at_rated_load": self.degradation.life_s,
        }
