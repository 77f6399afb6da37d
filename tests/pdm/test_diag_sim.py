"""The CWRU-trained module (default, strict prior) names the simulated bearings' state (edgetwin.sim)."""

from __future__ import annotations

import numpy as np
import pytest

from edgetwin.edge import EdgeModule
from edgetwin.pdm.datasets.cwru import load_records
from edgetwin.pdm.diagnose.module import build_diagnosis_module, feature_params, module_predict
from edgetwin.pdm.diagnose.splits import record_windows
from edgetwin.pdm.diagnose.train import FeatureCache, fit_windows

vibration = pytest.importorskip("edgetwin.sim.vibration")
sim_params = pytest.importorskip("edgetwin.sim.params")


def test_cwru_module_names_simulated_faults(shared_data, tmp_path):
    recs = load_records([shared_data("cwru")])
    params = feature_params()
    refs = [w for i in range(len(recs)) for w in record_windows(recs, i, 12000, 12000)]
    model = fit_windows(recs, refs, params, 12000, FeatureCache(recs, 12000, params))
    mod = EdgeModule.load(build_diagnosis_module(model, tmp_path / "diag.zip", params))

    p = sim_params.parse_model_params("test/pump", {"kind": "motor_pump"})
    vib = vibration.VibrationModel(p, 12000.0)
    speeds = np.array([0.8, 0.9, 1.0, 0.85, 0.95, 1.0])
    for mode, want, severity in (
        ("outer_race", "outer_race", 0.3),
        ("inner_race", "inner_race", 0.3),
        ("ball", "ball", 0.3),
        ("outer_race", "normal", 0.0),  # a healthy pump: no impacts at all
    ):
        rngs = [np.random.default_rng(k) for k in range(speeds.size)]
        bursts = vib.bursts(12000, speeds, mode, np.full(speeds.size, severity), rngs)
        pred = module_predict(mod, bursts, speeds * p.rated_speed_rpm / 60.0)
        assert pred.count(want) >= 5, (want, pred)


def test_demo_plant_runtime_names_the_spalled_pump(shared_data, tmp_path):
    """The module inside the runtime's monitor on the demo plant: pump2's outer-race spall
    (onset 1.5 h) is announced as outer_race, and no healthy asset gets a diagnosis."""
    import json
    from importlib import resources
    from pathlib import Path

    monitor = pytest.importorskip("edgetwin.runtime.module_monitor")
    plant_mod = pytest.importorskip("edgetwin.sim.plant")
    from edgetwin.core.config import load_plant

    recs = load_records([shared_data("cwru")])
    params = feature_params()
    # as `edgetwin pdm train-diagnosis` trains: 1-s windows every 0.5 s
    refs = [w for i in range(len(recs)) for w in record_windows(recs, i, 12000, 6000)]
    model = fit_windows(recs, refs, params, 12000, FeatureCache(recs, 12000, params))
    path = build_diagnosis_module(model, tmp_path / "diag.zip", params)

    plant = load_plant(Path(str(resources.files("edgetwin.sim") / "plants" / "demo.yaml")))
    sim = plant_mod.PlantSimulator(plant, seed=7)
    mon = monitor.ModuleMonitor(
        plant, path, name="diagnosis", kind="diagnosis", signals=["vib_de"], watchdog_ms=None
    )
    events = []
    for _ in range(int(2.2 * 60)):  # 2.2 h of plant time in 60 s steps
        for table in sim.step(60.0):
            for out in mon.process(table):
                if "payload" in out.column_names:
                    for row in out.to_pylist():
                        payload = row["payload"]
                        payload = json.loads(payload) if isinstance(payload, str) else payload
                        events.append((row["source"], payload["label"]))
    assert events == [("acme/site1/area1/line1/pump2", "outer_race")], events
