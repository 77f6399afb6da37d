"""What-if through the simulator's behaviour model: more load, sooner failure."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from edgetwin.core.config import load_plant
from edgetwin.twin import Twin
from edgetwin.twin.whatif import WhatIfError

PUMP2 = "acme/site1/area1/line1/pump2"


@pytest.fixture
def twin():
    path = Path(str(resources.files("edgetwin.sim") / "plants" / "demo.yaml"))
    return Twin.from_config(load_plant(path))


def test_heavier_load_fails_sooner(twin):
    light = twin.what_if(PUMP2, [[3600, 0.5]])
    heavy = twin.what_if(PUMP2, [[3600, 1.1]])
    assert 0 < heavy["time_to_failure_s"] < light["time_to_failure_s"]
    assert heavy["p10_s"] <= heavy["time_to_failure_s"] <= heavy["p90_s"]
    assert heavy["start"].startswith("new asset")


def test_live_model_provider_is_used(twin):
    from edgetwin.sim import MotorPump, parse_model_params

    asset = twin.plant.asset(PUMP2)
    aged = MotorPump(asset, parse_model_params(PUMP2, asset.model), 0, 0)
    aged.t_s = 6 * 3600.0  # six hours into the spall's growth
    fresh = twin.what_if(PUMP2, [[3600, 1.0]])
    twin.set_model_provider(lambda path: aged if path == PUMP2 else None)
    live = twin.what_if(PUMP2, [[3600, 1.0]])
    assert live["start"] == "live state" and live["plant_time_s"] == 6 * 3600.0
    assert live["time_to_failure_s"] < fresh["time_to_failure_s"]


def test_bad_profiles_say_what_to_fix(twin):
    with pytest.raises(WhatIfError, match="duration_s, load_fraction"):
        twin.what_if(PUMP2, {"load": 1.2})
    with pytest.raises(WhatIfError, match="empty"):
        twin.what_if(PUMP2, [])
