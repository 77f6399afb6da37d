"""What-if: how long an asset lasts from its current state under a planned load profile.

The twin asks "if we run pump2 at 70 % until the weekend, when does it fail?". Damage grows at
rate (load ** p) / life_s (Lundberg-Palmgren, p = 3 for ball bearings), with `life_s` the
asset's life at rated load; the simulator's live model supplies the damage consumed so far.
A seeded log-normal factor on the rate stands for unit-to-unit scatter, so repeated seeds give
a distribution rather than one over-confident number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from edgetwin.core.errors import ConfigError
from edgetwin.sim.motor_pump import MotorPump


def simulate_time_to_failure(
    asset_model: MotorPump,
    load_profile: Sequence[tuple[float, float]],
    seed: int = 0,
    scatter: float = 0.1,
) -> float:
    """Seconds from the model's current time until failure under `load_profile`.

    load_profile: [(duration_s, load_fraction), ...] of rated speed; the last load continues
    after the profile ends. Returns 0.0 for a failed asset and math.inf when the load drops to
    zero before failure (a stopped machine does not wear). `scatter`: sigma of the log-normal
    rate factor (0 gives the deterministic answer).
    """
    if not load_profile:
        raise ConfigError("load_profile is empty; give [(duration_s, load_fraction), ...]")
    for i, (dur, frac) in enumerate(load_profile):
        if dur < 0 or not math.isfinite(dur) or frac < 0 or not math.isfinite(frac):
            raise ConfigError(
                f"load_profile[{i}] = ({dur}, {frac}): need duration_s >= 0 and load_fraction >= 0"
            )
    deg = asset_model.degradation
    if asset_model.failed_at(asset_model.t_s):
        return 0.0
    remaining = 1.0 - asset_model.damage_now()
    factor = math.exp(scatter * float(np.random.default_rng(seed).standard_normal()))
    elapsed = 0.0
    for dur, frac in load_profile:
        rate = factor * frac**deg.exponent / deg.life_s
        if rate > 0 and rate * dur >= remaining:
            return elapsed + remaining / rate
        remaining -= rate * dur
        elapsed += dur
    last = factor * load_profile[-1][1] ** deg.exponent / deg.life_s
    return elapsed + remaining / last if last > 0 else math.inf
