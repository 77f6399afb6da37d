"""The SKAB detector, unchanged, on the Tennessee Eastman data (real files; skips without)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgetwin.pdm.datasets.tep import load_tep
from edgetwin.pdm.detect.tep_protocol import build_tep_module, evaluate_tep, rate


def test_tep_rates_and_module(shared_data, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGETWIN_HOME", str(tmp_path / "home"))
    root = shared_data("tep")
    rates, fit = evaluate_tep(root, [1, 5], [11])
    ours, t2, spe = rates["mewma_t2"], rates["pca11_t2"], rates["pca11_spe"]
    assert ours[0] < 0.1  # false alarms on d00_te
    assert ours[1] > 0.95 and t2[1] > 0.95  # fault 1 is easy for both
    assert ours[5] > max(t2[5], spe[5]) + 0.3  # fault 5 (condenser water step) needs smoothing
    from edgetwin.edge import EdgeModule

    mod = EdgeModule.load(build_tep_module(fit, tmp_path / "tep.zip", root, {}))
    x = load_tep(root, 5, test=True).values
    got = np.asarray(mod.predict(x))
    assert (got == fit.flags(x)).mean() > 0.999
    assert rate(got, 5) == pytest.approx(ours[5], abs=0.01)
