"""PCA T2/SPE baseline: control limits hold their false-alarm rate on normal data, and a
correlation break shows up on SPE but not T2."""

from __future__ import annotations

import numpy as np
import pytest

from edgetwin.core.errors import DataError
from edgetwin.pdm.detect.pca import PcaT2Spe


def _data(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 2))
    load = np.array([[1.0, 0.5, 0.2, 0.0, 0.7], [0.0, 0.5, 1.0, 0.9, -0.3]])
    return latent @ load + 0.1 * rng.normal(size=(n, 5))


def test_limits_give_about_alpha_false_alarms() -> None:
    pca = PcaT2Spe(n_components=2, alpha=0.99).fit(_data(3000, 0))
    f = pca.flags(_data(20000, 1))
    assert pca.n_components_ == 2
    assert 0.003 < f["t2"].mean() < 0.02
    assert 0.003 < f["spe"].mean() < 0.025


def test_correlation_break_is_caught_by_spe() -> None:
    pca = PcaT2Spe(variance=0.95).fit(_data(2000, 2))
    x = _data(1000, 3)
    x[:, 3] = -x[:, 3]  # same variance, broken correlation
    f = pca.flags(x)
    assert f["spe"].mean() > 0.8
    assert f["t2"].mean() < 0.1
    assert (f["either"] >= f["spe"]).all()


def test_errors() -> None:
    with pytest.raises(DataError, match="more rows than features"):
        PcaT2Spe().fit(np.zeros((3, 5)))
    with pytest.raises(DataError, match="not fitted"):
        PcaT2Spe().flags(np.zeros((3, 5)))
