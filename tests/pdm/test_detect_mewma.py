"""MEWMA-T2 detector: calibration maths, smoothing, ONNX parity, and detection on synthetic
and real SKAB data."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from edgetwin.core.errors import DataError
from edgetwin.pdm.detect import (
    MewmaT2Detector,
    calibrate,
    causal_smooth,
    drift_scale,
    ewma_kernel,
    normal_segments,
)
from edgetwin.pdm.detect.onnx_graph import detector_to_onnx
from edgetwin.pdm.detect_metrics import binary_scores


def test_drift_scale_is_std_for_white_noise_and_grows_for_random_walk() -> None:
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 2.0, size=(400, 1))
    walk = np.cumsum(rng.normal(0, 0.1, size=(400, 1)), axis=0)
    s_noise = drift_scale(noise, horizon=400)[0]
    assert s_noise == pytest.approx(2.0, rel=0.1)
    # random walk with step 0.1: expected spread after 400 more steps ~ 0.1*sqrt(400) / sqrt(2)
    s_walk = drift_scale(walk, horizon=400)[0]
    assert s_walk > 1.5 * walk.std()
    assert 0.5 < s_walk < 4.0
    with pytest.raises(DataError, match="calibration rows"):
        drift_scale(np.zeros((3, 2)), 10)


def test_ewma_kernel_and_causal_smoothing_match_recursion() -> None:
    k = ewma_kernel(span=9, taps=200)
    assert k.sum() == pytest.approx(1.0)
    rng = np.random.default_rng(1)
    z = rng.normal(size=(300, 3))
    zs = causal_smooth(z, k)
    alpha, s = 0.2, np.zeros(3)
    rec = []
    for row in z:
        s = alpha * row + (1 - alpha) * s
        rec.append(s.copy())
    np.testing.assert_allclose(zs, np.array(rec), atol=1e-9)
    # causal: changing the future leaves the past untouched
    z2 = z.copy()
    z2[150:] += 10
    np.testing.assert_allclose(causal_smooth(z2, k)[:150], zs[:150])


def _synthetic_runs(n_runs: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Runs of 3 correlated sensors with a run-specific offset; a 1-sigma shift of sensor 0
    on rows 600..899 is the anomaly."""
    rng = np.random.default_rng(seed)
    mix = np.array([[1.0, 0.8, 0.0], [0.0, 0.6, 0.5], [0.0, 0.0, 0.9]])
    runs = []
    for _ in range(n_runs):
        x = rng.normal(size=(1100, 3)) @ mix + rng.normal(0, 5, size=3)
        y = np.zeros(1100, dtype=np.int8)
        y[600:900] = 1
        x[600:900, 0] += 1.0 * x[:400, 0].std()
        runs.append((x, y))
    return runs


def test_detects_small_sustained_shift_with_few_false_alarms() -> None:
    train = _synthetic_runs(6, seed=2)
    det = MewmaT2Detector(span=20, taps=60).fit(normal_segments(train, 400))
    assert det.precision_.shape == (3, 3) and det.n_segments_ == 6
    test = _synthetic_runs(4, seed=3)
    flags = [det.predict_run(x).flags for x, _ in test]
    s = binary_scores([y for _, y in test], flags)
    assert s.f1 > 0.85
    assert s.far < 0.03
    # the same rule without smoothing misses most of a 1-sigma shift
    raw = MewmaT2Detector(span=1, taps=1).fit(normal_segments(train, 400))
    s_raw = binary_scores([y for _, y in test], [raw.predict_run(x).flags for x, _ in test])
    assert s_raw.mar > s.mar + 0.3


def test_onnx_graph_matches_numpy_reference() -> None:
    train = _synthetic_runs(3, seed=4)
    det = MewmaT2Detector(span=10, taps=30).fit(normal_segments(train, 400))
    sess = ort.InferenceSession(detector_to_onnx(det))
    x = train[0][0]
    z = np.stack([calibrate(x[:400], det.horizon).apply(x)] * 2)  # batch of 2
    got = sess.run(["score"], {"z": z})[0]
    ref = det.score_standardized(z)
    assert got.shape == (2, 1100)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_unfitted_and_wrong_width_are_clear_errors() -> None:
    with pytest.raises(DataError, match="not fitted"):
        MewmaT2Detector().score_standardized(np.zeros((5, 3)))
    det = MewmaT2Detector().fit(normal_segments(_synthetic_runs(2, seed=5), 400))
    with pytest.raises(DataError, match="4 features, expected 3"):
        det.score_standardized(np.zeros((5, 4)))
    with pytest.raises(DataError, match="calibration_rows=400"):
        det.predict_run(np.zeros((300, 3)))
    with pytest.raises(DataError, match="no normal segment"):
        normal_segments([(np.zeros((100, 3)), None)], 400)


def test_real_skab_valve1_subset(shared_data) -> None:
    """Trained on the first 400 rows of 8 valve1 runs, scored on 4 other valve1 runs."""
    from edgetwin.pdm.datasets.skab import load_skab

    runs = load_skab(shared_data("skab") / "valve1")
    det = MewmaT2Detector().fit(normal_segments([(r.values, r.anomaly) for r in runs[:8]], 400))
    test = runs[8:12]
    s = binary_scores([r.anomaly for r in test], [det.predict_run(r.values).flags for r in test])
    assert s.f1 > 0.7
    assert s.far < 0.2
