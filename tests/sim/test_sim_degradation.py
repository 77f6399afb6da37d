"""Fault growth reaches failure exactly at failure_s; what-if life shortens with load."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgetwin.core.config import parse_plant
from edgetwin.core.errors import ConfigError
from edgetwin.sim import PlantSimulator, simulate_time_to_failure
from edgetwin.sim.degradation import Degradation
from edgetwin.sim.load import LoadProfile
from edgetwin.sim.params import FaultParams, LoadParams


def _degradation(seed: int = 1, **fault: float | str) -> Degradation:
    spec = {"mode": "outer_race", "onset_s": 5400.0, "failure_s": 28800.0, **fault}
    profile = LoadProfile(LoadParams.model_validate({}), seed)
    return Degradation(FaultParams.model_validate(spec), profile, 1e8, seed)


def test_severity_pinned_at_onset_and_failure() -> None:
    d = _degradation()
    assert d.severity_at(5399.0)[0] == 0.0
    assert d.severity_at(5400.0)[0] == pytest.approx(0.05, rel=0.02)
    assert d.severity_at(28800.0)[0] == pytest.approx(1.0)
    assert d.health_at(28800.0)[0] == pytest.approx(0.0)
    assert d.health_at(0.0)[0] == 1.0


def test_severity_grows_monotonically_and_accelerates() -> None:
    d = _degradation()
    t = np.linspace(5400.0, 28800.0, 500)
    s = d.severity_at(t)
    assert np.all(np.diff(s) >= 0)
    # exponential growth: the second half of the life adds far more severity than the first
    mid = d.severity_at(0.5 * (5400.0 + 28800.0))[0]
    assert mid - s[0] < 0.5 * (s[-1] - mid)


def test_seed_changes_path_but_not_the_end_points() -> None:
    a, b = _degradation(seed=1), _degradation(seed=2)
    t = np.array([12000.0, 20000.0])
    assert not np.allclose(a.severity_at(t), b.severity_at(t))
    assert a.severity_at(28800.0)[0] == b.severity_at(28800.0)[0] == pytest.approx(1.0)


def test_damage_rate_follows_load_cubed() -> None:
    profile = LoadProfile(LoadParams.model_validate({"levels": [0.5], "dwell_s": [1e6, 1e6]}), 0)
    d = Degradation(None, profile, rated_life_s=1000.0, seed=0)
    assert d.damage_at(100.0)[0] == pytest.approx(0.5**3 * 100.0 / 1000.0, rel=1e-6)
    assert d.mode == "none"
    assert d.severity_at(100.0)[0] == 0.0


def _sim(failure_s: float = 28800.0) -> PlantSimulator:
    plant = parse_plant(
        {
            "name": "t",
            "assets": [
                {
                    "path": "a/p1",
                    "model": {
                        "kind": "motor_pump",
                        "fault": {"mode": "outer_race", "onset_s": 3600, "failure_s": failure_s},
                    },
                    "signals": [{"name": "speed", "unit": "rpm"}],
                },
                {
                    "path": "a/p2",
                    "model": {"kind": "motor_pump"},
                    "signals": [{"name": "flow", "unit": "m3/h"}],
                },
            ],
        }
    )
    return PlantSimulator(plant, seed=5, start_ns=0)


def test_what_if_shorter_at_higher_load() -> None:
    sim = _sim()
    sim.step(7200)
    model = sim.asset_model("a/p1")
    low = simulate_time_to_failure(model, [(1e9, 0.6)], seed=0, scatter=0.0)
    high = simulate_time_to_failure(model, [(1e9, 1.0)], seed=0, scatter=0.0)
    assert high < low
    assert low / high == pytest.approx((1.0 / 0.6) ** 3, rel=1e-6)  # Lundberg-Palmgren p = 3


def test_what_if_matches_ground_truth_under_the_real_load() -> None:
    """Replaying the simulator's own load profile predicts the configured failure time."""
    sim = _sim()
    sim.step(7200)
    model = sim.asset_model("a/p1")
    edges = np.arange(7200.0, 28800.0 + 10.0, 10.0)
    loads = model.load.at(0.5 * (edges[1:] + edges[:-1]))
    profile = [(10.0, float(x)) for x in loads]
    ttf = simulate_time_to_failure(model, profile, seed=0, scatter=0.0)
    assert 7200.0 + ttf == pytest.approx(28800.0, rel=0.002)


def test_what_if_scatter_is_seeded_and_failed_asset_is_zero() -> None:
    sim = _sim()
    model = sim.asset_model("a/p1")
    a = simulate_time_to_failure(model, [(3600.0, 0.9), (1.0, 0.7)], seed=1)
    assert a == simulate_time_to_failure(model, [(3600.0, 0.9), (1.0, 0.7)], seed=1)
    assert a != simulate_time_to_failure(model, [(3600.0, 0.9), (1.0, 0.7)], seed=2)
    assert simulate_time_to_failure(model, [(100.0, 0.0)], seed=0) == math.inf
    sim.step(30000)
    assert sim.failed("a/p1")
    assert simulate_time_to_failure(model, [(1.0, 1.0)], seed=0) == 0.0


def test_healthy_asset_lives_its_rated_life() -> None:
    model = _sim().asset_model("a/p2")
    ttf = simulate_time_to_failure(model, [(1.0, 1.0)], seed=0, scatter=0.0)
    assert ttf == pytest.approx(50000 * 3600.0, rel=1e-6)


def test_bad_load_profile_names_the_entry() -> None:
    model = _sim().asset_model("a/p1")
    with pytest.raises(ConfigError, match=r"load_profile\[1\]"):
        simulate_time_to_failure(model, [(10.0, 0.5), (-1.0, 0.5)], seed=0)


def test_load_profile_commissioning_then_seeded_dwell() -> None:
    params = LoadParams.model_validate(
        {"levels": [1.0, 0.8, 0.9], "dwell_s": [600, 1200], "ramp_s": 0, "commissioning_s": 1800}
    )
    a, b = LoadProfile(params, 4), LoadProfile(params, 4)
    assert a.at(np.array([300.0, 900.0, 1500.0])).tolist() == [0.8, 0.9, 1.0]
    t = np.arange(0.0, 36000.0, 60.0)
    la = a.at(t)
    np.testing.assert_array_equal(la, b.at(t))  # seeded
    assert set(np.unique(la)) == {0.8, 0.9, 1.0}
    changes = np.flatnonzero(np.diff(la[30:])) + 1
    assert np.diff(changes).min() * 60 >= 600 - 60  # dwell at least its minimum
    assert not np.array_equal(la, LoadProfile(params, 5).at(t))
