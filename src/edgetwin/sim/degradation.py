"""Fault growth to failure, driven by accumulated load: the simulator's ground truth.

Damage D runs from 0 (new) to 1 (failed) at a rate proportional to load**p (Lundberg-Palmgren:
bearing life ~ (C/P)**3, so p = 3). When a fault is configured, the life constant is calibrated
against the seeded duty cycle so that D reaches 1 at exactly `failure_s`; the fault appears at
`onset_s` with a small initial severity and grows exponentially in damage to 1 (spall growth is
self-accelerating), with a seeded Brownian-bridge wobble so no two runs look alike yet both ends
stay pinned. Severity never decreases: spalls do not heal. Health is 1 - severity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgetwin.sim.load import LoadProfile
from edgetwin.sim.params import FaultParams

_KNOTS = 256


class Degradation:
    """Damage, severity and health of one asset as functions of plant seconds (vectorised)."""

    def __init__(
        self,
        fault: FaultParams | None,
        profile: LoadProfile,
        rated_life_s: float,
        seed: int | list[int],
        life_exponent: float = 3.0,
    ) -> None:
        self.fault = fault
        self.profile = profile
        self.exponent = fault.life_exponent if fault else life_exponent
        if fault is None:
            self.life_s = rated_life_s
            self.onset_damage = math.inf
        else:
            phi = profile.integral(np.array([fault.onset_s, fault.failure_s]), self.exponent)
            self.life_s = float(phi[1])
            self.onset_damage = float(phi[0] / phi[1])
        rng = np.random.default_rng(seed)
        u = np.linspace(0.0, 1.0, _KNOTS + 1)
        walk = np.concatenate([[0.0], np.cumsum(rng.normal(0.0, math.sqrt(1.0 / _KNOTS), _KNOTS))])
        bridge = walk - u * walk[-1]
        self._u = u
        if fault is not None:
            log_s = (1.0 - u) * math.log(fault.initial_severity) + fault.wobble * bridge
            self._sev_knots = np.minimum(np.maximum.accumulate(np.exp(log_s)), 1.0)
        else:
            self._sev_knots = np.zeros_like(u)

    @property
    def mode(self) -> str:
        return self.fault.mode if self.fault else "none"

    def damage_at(self, t_s: Any) -> np.ndarray:
        """Life consumed in [0, 1] at plant seconds `t_s`."""
        d = self.profile.integral(t_s, self.exponent) / self.life_s
        if self.fault is not None:
            d = np.where(
                np.atleast_1d(np.asarray(t_s, dtype=float)) >= self.fault.failure_s, 1.0, d
            )
        return np.minimum(d, 1.0)

    def severity_of_damage(self, damage: np.ndarray) -> np.ndarray:
        if self.fault is None:
            return np.zeros_like(np.asarray(damage, dtype=float))
        u = (np.asarray(damage, dtype=float) - self.onset_damage) / (1.0 - self.onset_damage)
        sev = np.interp(np.clip(u, 0.0, 1.0), self._u, self._sev_knots)
        return np.where(u < 0.0, 0.0, sev)

    def severity_at(self, t_s: Any) -> np.ndarray:
        """Fault severity in [0, 1]: 0 before onset, `initial_severity` at onset, 1 at failure."""
        return self.severity_of_damage(self.damage_at(t_s))

    def health_at(self, t_s: Any) -> np.ndarray:
        """Health index 1 (as new) .. 0 (failed)."""
        return 1.0 - self.severity_at(t_s)


@dataclass(frozen=True)
class GroundTruth:
    """What really happens to one asset: the answer key for detectors, RUL and diagnosis.

    Times are plant seconds since the simulator's start; `onset_s`/`failure_s` are None for an
    asset without a fault. `severity_at`/`health_at` accept floats or arrays.
    """

    asset: str
    fault_mode: str
    onset_s: float | None
    failure_s: float | None
    _degradation: Degradation

    def severity_at(self, t_s: float) -> float:
        return float(self._degradation.severity_at(t_s)[0])

    def health_at(self, t_s: float) -> float:
        return float(self._degradation.health_at(t_s)[0])

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for events, the ledger, the dashboard)."""
        return {
            "asset": self.asset,
            "fault_mode": self.fault_mode,
            "onset_s": self.onset_s,
            "failure_s": self.failure_s,
        }

    def rul_at(self, t_s: float) -> float | None:
        """True remaining useful life in seconds, None without a fault."""
        if self.failure_s is None:
            return None
        return max(self.failure_s - t_s, 0.0)
