"""What-if: run an asset's behaviour model forward under a user's load profile.

The physics lives in `edgetwin.sim` (`simulate_time_to_failure(asset_model, load_profile,
seed)`); this module only adapts the twin's asset config to it and turns the result into a
JSON-able dict, so the API and the dashboard never import the simulator directly.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from edgetwin.core.assets import Asset
from edgetwin.core.errors import EdgetwinError

log = logging.getLogger(__name__)


class WhatIfError(EdgetwinError):
    """The what-if simulation cannot run for this asset or load profile."""


def run_what_if(asset: Asset, load_profile: Any, seed: int = 0) -> dict[str, Any]:
    """Estimated time to failure of `asset` under `load_profile` (as `edgetwin.sim` defines it)."""
    if not asset.model:
        raise WhatIfError(
            f"asset {asset.path!r} has no behaviour model; add a 'model:' section (kind + params) "
            "to it in plant.yaml to run what-if simulations"
        )
    try:
        from edgetwin.sim import simulate_time_to_failure  # type: ignore[attr-defined]
    except ImportError as exc:
        raise WhatIfError(f"what-if needs edgetwin.sim.simulate_time_to_failure ({exc})") from None
    try:
        result = simulate_time_to_failure(_model_of(asset), load_profile, seed)
    except EdgetwinError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise WhatIfError(f"what-if for {asset.path!r} rejected the load profile: {exc}") from None
    return {"asset": asset.path, "seed": seed, "load_profile": load_profile, **_as_dict(result)}


def _model_of(asset: Asset) -> Any:
    """The simulator's own parameter object when it offers a parser, else the raw model dict."""
    try:
        from edgetwin.sim.params import parse_model_params

        return parse_model_params(asset.path, asset.model)
    except ImportError:
        return asset.model


def _as_dict(result: Any) -> dict[str, Any]:
    if isinstance(result, dict):
        return result
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    if hasattr(result, "model_dump"):
        return dict(result.model_dump())
    if isinstance(result, int | float):
        return {"time_to_failure_s": float(result)}
    return {"result": str(result)}
