"""Casing vibration of a motor-pump set, in g, one burst at a time.

What a diagnostician looks for, built from the physics that produces it:
- a bearing spall is struck at the defect frequency (from geometry and shaft speed) with a
  1-2 % random spread of intervals (rolling elements slip); each strike rings the structure's
  resonance (a damped 2nd-order mode, impulse-invariant IIR run with `scipy.signal.lfilter`);
  inner-race strikes are amplitude-modulated by shaft rotation (the spall moves through the load
  zone), ball strikes by the cage (FTF); outer-race strikes sit in the fixed load zone;
- imbalance raises 1x (force ~ speed^2), misalignment raises 2x and some 1x;
- cavitation adds broadband high-frequency noise (bubble collapse) and raises vane pass;
- healthy machines keep a residual 1x, a little 2x, vane pass and broadband noise.
Everything is vectorised over the samples of a burst; per-burst Python work is O(impacts).
"""

from __future__ import annotations

import logging
import math

import numpy as np
from scipy import signal as sps

from edgetwin.sim.bearing import defect_frequencies
from edgetwin.sim.params import BEARING_MODES, MotorPumpParams

log = logging.getLogger(__name__)

# Transmissibility from the drive-end bearing to a sensor on the non-drive end.
NDE_TRANSFER = 0.15


def resonator(
    resonance_hz: float, damping_ratio: float, rate_hz: float
) -> tuple[np.ndarray, np.ndarray]:
    """IIR (b, a) whose impulse response is exp(-zeta w t) sin(w_d t): unit peak, rings at f_r."""
    w = 2.0 * math.pi * resonance_hz
    sigma = damping_ratio * w
    wd = w * math.sqrt(1.0 - damping_ratio**2)
    dt = 1.0 / rate_hz
    r = math.exp(-sigma * dt)
    b = np.array([0.0, r * math.sin(wd * dt)])
    a = np.array([1.0, -2.0 * r * math.cos(wd * dt), r * r])
    return b, a


class VibrationModel:
    """Bursts of acceleration (g) for one asset and one sensor at `rate_hz`."""

    def __init__(self, params: MotorPumpParams, rate_hz: float, location: str = "de") -> None:
        self.p = params
        self.rate_hz = rate_hz
        self.transfer = 1.0 if location == "de" else NDE_TRANSFER
        self.geometry = params.bearing.geometry()
        f_res = params.resonance_hz
        if f_res > 0.4 * rate_hz:
            f_res = 0.4 * rate_hz
            log.warning(
                "resonance_hz=%s is above 0.4 x rate_hz=%s; ringing at %s Hz instead",
                params.resonance_hz,
                rate_hz,
                f_res,
            )
        self.b, self.a = resonator(f_res, params.damping_ratio, rate_hz)
        hi = min(0.45 * rate_hz, 5500.0)
        lo = min(2000.0, 0.5 * hi)
        self.cavitation_sos = sps.butter(4, [lo, hi], btype="bandpass", fs=rate_hz, output="sos")

    def impacts(
        self, x: np.ndarray, shaft_hz: float, mode: str, amp_g: float, rng: np.random.Generator
    ) -> None:
        """Add a train of bearing strikes (impulses, g) for `mode` into the row `x` in place."""
        n = x.shape[0]
        f = defect_frequencies(self.geometry, shaft_hz)
        f_d = f.for_mode(mode)
        duration = n / self.rate_hz
        count = int(math.ceil(duration * f_d)) + 2
        intervals = (1.0 / f_d) * (1.0 + self.p.slip_jitter * rng.standard_normal(count))
        t_k = rng.uniform(0.0, 1.0 / f_d) + np.concatenate([[0.0], np.cumsum(intervals[:-1])])
        amp = amp_g * (1.0 + 0.1 * rng.standard_normal(count))
        if mode == "inner_race":
            phase = rng.uniform(0.0, 2.0 * math.pi)
            amp = amp * (0.5 + 0.5 * np.cos(2.0 * math.pi * f.shaft * t_k + phase))
        elif mode == "ball":
            phase = rng.uniform(0.0, 2.0 * math.pi)
            amp = amp * (0.5 + 0.5 * np.cos(2.0 * math.pi * f.ftf * t_k + phase))
        idx = np.rint(t_k * self.rate_hz).astype(np.int64)
        keep = idx < n
        np.add.at(x, idx[keep], amp[keep])

    def bursts(
        self,
        n_samples: int,
        speed_frac: np.ndarray,
        mode: str,
        severity: np.ndarray,
        rngs: list[np.random.Generator],
    ) -> np.ndarray:
        """One burst per entry: `speed_frac` (fraction of rated) and fault `severity` in [0, 1].

        Returns float32 (bursts x n_samples) in g. A stopped machine (speed 0) gives sensor noise.
        """
        p = self.p
        n_b = len(speed_frac)
        t = np.arange(n_samples, dtype=np.float32) / np.float32(self.rate_hz)
        out = np.empty((n_b, n_samples), dtype=np.float32)
        strikes: np.ndarray | None = None
        hf: np.ndarray | None = None
        for i in range(n_b):
            rng = rngs[i]
            row = out[i]
            rng.standard_normal(n_samples, dtype=np.float32, out=row)
            row *= np.float32(p.noise_g)
            n = float(speed_frac[i])
            if n <= 0.0:
                continue
            sev = float(severity[i])
            f_r = n * p.rated_speed_rpm / 60.0
            force = n * n  # centrifugal and hydraulic forces ~ speed^2
            a1 = p.residual_1x_g * force
            a2 = 0.3 * p.residual_1x_g * force
            vane = p.vane_pass_g * force
            if mode == "imbalance":
                a1 += 0.6 * sev * force
            elif mode == "misalignment":
                a2 += 0.5 * sev * force
                a1 += 0.15 * sev * force
            elif mode == "cavitation" and sev > 0.0:
                vane *= 1.0 + 2.0 * sev
                if hf is None:
                    hf = np.zeros((n_b, n_samples), dtype=np.float32)
                rng.standard_normal(n_samples, dtype=np.float32, out=hf[i])
                hf[i] *= np.float32(0.5 * sev * force)
            ph = rng.uniform(0.0, 2.0 * math.pi, 3).astype(np.float32)
            w = np.float32(2.0 * math.pi * f_r) * t
            row += np.float32(a1) * np.sin(w + ph[0])
            row += np.float32(a2) * np.sin(2 * w + ph[1])
            row += np.float32(vane) * np.sin(np.float32(p.n_vanes) * w + ph[2])
            if mode in BEARING_MODES and sev > 0.0:
                if strikes is None:
                    strikes = np.zeros((n_b, n_samples))
                self.impacts(strikes[i], f_r, mode, p.impact_g * sev * force * self.transfer, rng)
        if strikes is not None:
            out += sps.lfilter(self.b, self.a, strikes, axis=1).astype(np.float32)
        if hf is not None:
            out += sps.sosfilt(self.cavitation_sos, hf, axis=1).astype(np.float32)
        return out
