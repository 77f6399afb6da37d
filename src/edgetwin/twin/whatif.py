"""What-if: run an asset's behaviour model forward under a user's load profile.

The physics lives in `edgetwin.sim` (`simulate_time_to_failure(model, load_profile, seed)`);
this module adapts the twin's asset to it and returns a JSON-able answer. When the runtime
attaches the live simulator (`Twin.set_model_provider`), the run starts from the asset's
current damage; otherwise from a new asset built from plant.yaml (said so in the answer).
Several seeds sample the model's life scatter, so the answer is a median with a 10-90 % band.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from edgetwin.core.assets import Asset
from edgetwin.core.errors import EdgetwinError

log = logging.getLogger(__name__)
ModelProvider = Callable[[str], Any]


class WhatIfError(EdgetwinError):
    """The what-if simulation cannot run for this asset or load profile."""


def _profile(load_profile: Any) -> list[tuple[float, float]]:
    """[[duration_s, load_fraction], ...] (or {"steps": [...]}) -> list of float pairs."""
    steps: Any = load_profile.get("steps") if isinstance(load_profile, dict) else load_profile
    try:
        out = [(float(d), float(f)) for d, f in steps]
    except (TypeError, ValueError):
        raise WhatIfError(
            "load_profile must be a list of [duration_s, load_fraction] pairs, e.g. "
            "[[3600, 0.8], [7200, 1.1]] (fraction of rated speed; the last step continues)"
        ) from None
    if not out:
        raise WhatIfError(
            "load_profile is empty; give at least one [duration_s, load_fraction] step"
        )
    return out


def run_what_if(
    asset: Asset,
    load_profile: Any,
    seed: int = 0,
    *,
    provider: ModelProvider | None = None,
    runs: int = 20,
) -> dict[str, Any]:
    """Estimated time to failure of `asset` under `load_profile`, in seconds and hours."""
    if not asset.model:
        raise WhatIfError(
            f"asset {asset.path!r} has no behaviour model; add a 'model:' section (kind + params) "
            "to it in plant.yaml to run what-if simulations"
        )
    steps = _profile(load_profile)
    try:
        from edgetwin.sim import MotorPump, parse_model_params, simulate_time_to_failure
    except ImportError as exc:
        raise WhatIfError(f"what-if needs edgetwin.sim ({exc})") from None
    live = provider(asset.path) if provider is not None else None
    model = (
        live
        if live is not None
        else MotorPump(asset, parse_model_params(asset.path, asset.model), seed, 0)
    )
    ttf = np.array(
        [simulate_time_to_failure(model, steps, seed + k) for k in range(runs)], dtype=float
    )
    finite = ttf[np.isfinite(ttf)]

    def q(p: float) -> float | None:
        if len(finite) < len(ttf) * (1 - p / 100):  # the quantile falls among "never fails"
            return None
        return (
            float(np.percentile(ttf, p))
            if len(finite) == len(ttf)
            else float(np.percentile(finite, p))
        )

    median = q(50)
    return {
        "asset": asset.path,
        "load_profile": [list(s) for s in steps],
        "start": "live state" if live is not None else "new asset (no live simulator attached)",
        "plant_time_s": float(getattr(model, "t_s", 0.0)),
        "runs": runs,
        "time_to_failure_s": median,
        "time_to_failure_h": None if median is None else median / 3600,
        "p10_s": q(10),
        "p90_s": q(90),
        "never_fails_fraction": float(np.mean(~np.isfinite(ttf))),
        "seed": seed,
        "note": None if math.isfinite(ttf.min()) else "zero load stops wear: some runs never fail",
    }
