"""Operating-regime detection: the count is found from the settings, never given."""

from __future__ import annotations

import numpy as np

from edgetwin.pdm.datasets.cmapss import load_runs
from edgetwin.pdm.rul.regimes import RegimeNormalizer, normalize_rows

KEPT_CMAPSS = [2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21]  # sensors with a trend


def _synthetic(n_regimes: int, rows: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-10, 10, size=(n_regimes, 3))
    labels = rng.integers(0, n_regimes, rows)
    settings = centres[labels] + rng.normal(0, 0.01, size=(rows, 3))
    offsets = rng.normal(0, 50, size=(n_regimes, 4))
    sensors = offsets[labels] + rng.normal(0, 1, size=(rows, 4))
    sensors[:, 3] = 7.0  # a constant sensor
    return np.column_stack([settings, sensors]), labels


def test_synthetic_regimes_found_and_removed() -> None:
    rows, _labels = _synthetic(4)
    norm = RegimeNormalizer().fit(rows)
    assert norm.n_regimes_ == 4
    assert norm.sensor_columns_.tolist() == [0, 1, 2]  # the constant sensor is dropped
    z = norm.transform(rows)
    # the regime offsets (std 50) are gone: standardised sensors have unit spread overall
    assert z.shape == (3000, 3)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=0.05)


def test_single_operating_point_is_one_regime() -> None:
    rng = np.random.default_rng(2)
    rows = np.column_stack([rng.normal(0, 0.003, (2000, 3)), rng.normal(5, 1, (2000, 3))])
    assert RegimeNormalizer().fit(rows).n_regimes_ == 1


def test_fd002_six_regimes_detected(shared_data) -> None:
    runs = load_runs(shared_data("cmapss") / "train_FD002.txt")
    norm = RegimeNormalizer().fit(runs.features)
    assert norm.n_regimes_ == 6
    assert norm.silhouette_ > 0.95
    assert (norm.sensor_columns_ + 1).tolist() == KEPT_CMAPSS
    # after normalisation every kept sensor has zero mean and unit std within each regime
    z = normalize_rows(runs.features, norm.to_params())
    from edgetwin.pdm.rul.regimes import regime_labels

    labels = regime_labels(runs.features, norm.to_params())
    for k in range(6):
        np.testing.assert_allclose(z[labels == k].mean(axis=0), 0.0, atol=1e-3)
        np.testing.assert_allclose(z[labels == k].std(axis=0), 1.0, atol=1e-3)


def test_fd001_one_regime(shared_data) -> None:
    runs = load_runs(shared_data("cmapss") / "train_FD001.txt")
    norm = RegimeNormalizer().fit(runs.features)
    assert norm.n_regimes_ == 1
    assert (norm.sensor_columns_ + 1).tolist() == KEPT_CMAPSS


def test_regime_onehot_columns_follow_each_cycles_regime() -> None:
    from edgetwin.pdm.rul.windows import preprocess_histories

    rows, labels = _synthetic(3, rows=600)
    norm = RegimeNormalizer().fit(rows)
    params = {**norm.to_params(), "window": 8, "n_raw_sensors": 4}
    plain = preprocess_histories(rows[:20], **params)
    x = preprocess_histories(rows[:20], **params, regime_onehot=True)
    assert plain.shape == (1, 8, 3) and x.shape == (1, 8, 6)
    np.testing.assert_array_equal(x[0, :, :3], plain[0])  # sensors unchanged
    onehot = x[0, :, 3:]
    assert (onehot.sum(axis=1) == 1).all()
    # the detected regime numbering is KMeans's own: the one-hot columns must induce the same
    # partition of the cycles as the true labels
    found = onehot.argmax(axis=1)
    true = labels[12:20]
    assert all((found == found[i]).tolist() == (true == true[i]).tolist() for i in range(8))
    # a single regime adds nothing
    one = np.column_stack([np.zeros((50, 3)), np.random.default_rng(0).normal(size=(50, 4))])
    n1 = RegimeNormalizer().fit(one)
    p1 = {**n1.to_params(), "window": 8, "n_raw_sensors": 4}
    assert (
        preprocess_histories(one, **p1, regime_onehot=True).shape
        == preprocess_histories(one, **p1).shape
    )
