"""The demo's promise: the spall is seen hours before failure; healthy assets stay quiet."""

from __future__ import annotations

from pathlib import Path

from edgetwin.core.config import load_plant
from edgetwin.sim.story import FEATURES, run

DEMO = Path(__file__).resolve().parents[2] / "src" / "edgetwin" / "sim" / "plants" / "demo.yaml"


def test_demo_fault_visible_early_and_healthy_assets_quiet() -> None:
    stories = {s.path.rsplit("/", 1)[-1]: s for s in run(load_plant(DEMO), hours=9.0)}
    pump2 = stories.pop("pump2")
    assert pump2.fault_mode == "outer_race" and pump2.failure_s == 8 * 3600
    assert pump2.onset_s is not None
    # envelope analysis at BPFO sees it within 30 min of onset, > 6 h before failure
    first = pump2.first_alarm_s["envelope_bpfo"]
    assert first is not None and first <= pump2.onset_s + 1800
    assert pump2.failure_s - first > 6 * 3600
    # a 50 degC bearing-temperature limit only trips in the last two hours
    assert pump2.bearing_temp_cross_s is not None
    assert pump2.failure_s - pump2.bearing_temp_cross_s < 2 * 3600
    assert len(stories) >= 2
    for story in stories.values():
        assert story.fault_mode == "none"
        assert all(story.first_alarm_s[k] is None for k in FEATURES), story
        assert max(story.max_z_healthy.values()) < 6.0
        assert story.bearing_temp_max_healthy < 46.0 and story.bearing_temp_cross_s is None
