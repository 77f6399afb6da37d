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
from edgetwin.pdm.detect.calibration import (
    increment_scale,
    same_operating_point,
    slow_features,
    variance_ratio,
)
from edgetwin.pdm.detect.onnx_graph import detector_to_onnx
from edgetwin.pdm.detect.processing import hysteresis_flags
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
    segs = normal_segments([(r.values, r.anomaly) for r in runs[:8]], 400)
    det = MewmaT2Detector().fit(segs)
    assert det.slow_ == [4, 5]  # motor temperature and thermocouple, picked from the data
    test = runs[8:12]
    s = binary_scores([r.anomaly for r in test], [det.predict_run(r.values).flags for r in test])
    assert s.f1 > 0.85  # measured 0.90
    assert s.far < 0.08  # measured 0.035
    # watching the temperatures' levels instead: their drift costs ~5x the false alarms
    level = MewmaT2Detector(slow_lag=0).fit(segs)
    s_level = binary_scores(
        [r.anomaly for r in test], [level.predict_run(r.values).flags for r in test]
    )
    assert s_level.far > 3 * s.far


def _drifting_runs(n_runs: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Runs of 2 noise sensors and 1 random-walk 'temperature'; the anomaly is a 1.5-sigma
    shift of sensor 0 on rows 600..899; the walk drifts freely all run long."""
    rng = np.random.default_rng(seed)
    runs = []
    for _ in range(n_runs):
        x = rng.normal(size=(1100, 3))
        x[:, 2] = np.cumsum(rng.normal(0, 0.05, 1100)) + rng.normal(0, 0.01, 1100)
        y = np.zeros(1100, dtype=np.int8)
        y[600:900] = 1
        x[600:900, 0] += 1.5
        runs.append((x, y))
    return runs


def test_slow_features_variance_ratio_and_increment_scale() -> None:
    rng = np.random.default_rng(7)
    walk = np.cumsum(rng.normal(0, 0.1, size=(400, 1)), axis=0)
    noise = rng.normal(0, 1.0, size=(400, 1))
    segs = [np.hstack([noise, walk])]
    vr = variance_ratio(segs, 100)
    assert vr[0] == pytest.approx(1.0, abs=0.3)  # white noise: V(lag) = V(1)
    assert vr[1] > 30  # random walk: V(lag) ~ lag * V(1)
    assert slow_features(segs, 100) == [1]
    assert slow_features(segs, 0) == []
    # RMS of 100-step changes of a walk with step 0.1 is 0.1 * sqrt(100) = 1
    scale = increment_scale(segs, [1], 100)
    assert np.isnan(scale[0]) and scale[1] == pytest.approx(1.0, rel=0.35)
    # a calibration keeps the fixed scale and estimates the others
    cal = calibrate(segs[0], 400, scale)
    assert cal.scale[1] == scale[1] and cal.scale[0] == pytest.approx(1.0, rel=0.15)


def test_hysteresis_flags_hand_case() -> None:
    s = np.array([0, 5, 11, 8, 6, 4, 8, 12, 3, 11])
    # on above 10, off at or below 5
    np.testing.assert_array_equal(hysteresis_flags(s, on=10, off=5), [0, 0, 1, 1, 1, 0, 0, 1, 0, 1])
    np.testing.assert_array_equal(hysteresis_flags(s, on=10, off=10), (s > 10).astype(int))
    with pytest.raises(DataError, match="off level"):
        hysteresis_flags(s, on=1, off=2)


def test_operating_point_match() -> None:
    rng = np.random.default_rng(8)
    ref = [rng.normal([32, 1], [0.5, 0.1], size=(400, 2)) for _ in range(5)]
    same = rng.normal([32.2, 1.0], [0.5, 0.1], size=(400, 2))
    other = rng.normal([125, 2.4], [0.5, 0.1], size=(400, 2))
    assert same_operating_point([same, other], ref) == [True, False]


def test_drifting_sensor_is_differenced_not_alarmed() -> None:
    """A random-walk sensor makes a level model alarm on normal drift; differencing it
    (picked automatically) keeps the false alarms low while the shift is still found."""
    train = _drifting_runs(8, seed=10)
    test = _drifting_runs(6, seed=11)
    segs = normal_segments(train, 400)
    det = MewmaT2Detector(slow_lag=200).fit(segs)
    assert det.slow_ == [2] and det.width_ == 260
    level = MewmaT2Detector(slow_lag=0).fit(segs)
    assert level.slow_ == []
    truth = [y for _, y in test]
    s = binary_scores(truth, [det.predict_run(x).flags for x, _ in test])
    s_level = binary_scores(truth, [level.predict_run(x).flags for x, _ in test])
    assert s.far < 0.05 and s.f1 > 0.85
    assert s_level.far > 2.5 * s.far  # drift raises ~4x the false alarms of the level model


def test_onnx_graph_with_slow_features_matches_numpy() -> None:
    det = MewmaT2Detector(span=10, taps=30, slow_lag=100).fit(
        normal_segments(_drifting_runs(3, seed=12), 400)
    )
    assert det.slow_ == [2]
    sess = ort.InferenceSession(detector_to_onnx(det))
    x = _drifting_runs(1, seed=13)[0][0]
    z = det.calibrate(x[:400]).apply(x)[None]
    np.testing.assert_allclose(
        sess.run(["score"], {"z": z})[0], det.score_standardized(z), rtol=1e-4, atol=1e-3
    )
