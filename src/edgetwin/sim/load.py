"""Seeded duty cycles: the speed a line runs at, as a function of plant time.

A real line changes throughput every tens of minutes and ramps between set points. The profile
is generated segment by segment from its own random stream, so it is the same however the
simulation is chunked, and its whole future can be integrated ahead of time: that is how the
degradation model makes a fault fail at exactly the configured time under a varying load.
"""

from __future__ import annotations

import numpy as np

from edgetwin.sim.params import LoadParams


class LoadProfile:
    """Piecewise-constant speed fraction with linear ramps of `ramp_s` between set points."""

    def __init__(self, params: LoadParams, seed: int | list[int]) -> None:
        self.params = params
        self._rng = np.random.default_rng(seed)
        levels = np.asarray(params.levels, dtype=float)
        if params.commissioning_s > 0:
            ordered = np.sort(levels)
            share = params.commissioning_s / len(ordered)
            self._starts = [i * share for i in range(len(ordered))]
            self._levels = [float(x) for x in ordered]
        else:
            # Start in a middle level so the first minutes look like the rest of the run.
            self._starts = [0.0]
            self._levels = [float(levels[len(levels) // 2])]
        self._level_choices = levels
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None
        self._grid_dt = 10.0
        self._phi = np.zeros(1)  # integral of load**p on a 10 s grid, extended on demand
        self._phi_p: float | None = None

    def _extend(self, t_end: float) -> None:
        lo, hi = self.params.dwell_s
        while self._starts[-1] <= t_end + self.params.ramp_s:
            dwell = float(self._rng.uniform(lo, hi))
            if self._starts[-1] < self.params.commissioning_s:
                dwell = self.params.commissioning_s - self._starts[-1]  # finish commissioning
            choices = self._level_choices
            if len(choices) > 1:
                choices = choices[choices != self._levels[-1]]
            self._starts.append(self._starts[-1] + dwell)
            self._levels.append(float(self._rng.choice(choices)))
            self._arrays = None

    def at(self, t_s: np.ndarray | float) -> np.ndarray:
        """Speed fraction (1.0 = rated) at plant seconds `t_s` (vectorised)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        self._extend(float(t.max(initial=0.0)))
        if self._arrays is None:
            self._arrays = (np.asarray(self._starts), np.asarray(self._levels))
        starts, levels = self._arrays
        i = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, len(starts) - 1)
        prev = levels[np.maximum(i - 1, 0)]
        ramp = max(self.params.ramp_s, 1e-9)
        frac = np.where(i > 0, np.clip((t - starts[i]) / ramp, 0.0, 1.0), 1.0)
        return prev + (levels[i] - prev) * frac

    def integral(self, t_s: np.ndarray | float, power: float) -> np.ndarray:
        """Integral of load**power from 0 to `t_s`, in rated-load seconds (trapezoid, 10 s grid)."""
        t = np.atleast_1d(np.asarray(t_s, dtype=float))
        if self._phi_p != power:
            self._phi_p, self._phi = power, np.zeros(1)
        t_max = float(t.max(initial=0.0))
        n_have = len(self._phi)
        n_need = int(np.ceil(t_max / self._grid_dt)) + 2
        if n_need > n_have:
            n_need = max(n_need, 2 * n_have)
            grid = np.arange(n_have - 1, n_need) * self._grid_dt
            rate = self.at(grid) ** power
            inc = 0.5 * (rate[1:] + rate[:-1]) * self._grid_dt
            self._phi = np.concatenate([self._phi, self._phi[-1] + np.cumsum(inc)])
        # Linear interpolation on the uniform grid, without building the grid every call.
        pos = np.clip(t / self._grid_dt, 0.0, len(self._phi) - 1.0)
        i = np.minimum(pos.astype(np.int64), len(self._phi) - 2)
        return self._phi[i] + (pos - i) * (self._phi[i + 1] - self._phi[i])
