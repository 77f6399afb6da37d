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
