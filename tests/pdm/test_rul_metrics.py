"""RUL metrics, target capping, windows and conformal intervals on hand-checked values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edgetwin.core.errors import DataError
from edgetwin.pdm.metrics import (
    error_by_truth,
    interval_coverage,
    mean_interval_width,
    phm08_score,
    rmse,
)
from edgetwin.pdm.rul.conformal import MondrianIntervals, rul_with_interval
from edgetwin.pdm.rul.windows import all_windows, cap_rul, last_window, preprocess_histories


def test_phm08_score_hand_computed() -> None:
    # late by 10: e^(10/10)-1 ; early by 13: e^(13/13)-1 ; exact: 0
    assert phm08_score([50, 50, 50], [60, 37, 50]) == pytest.approx(2 * (math.e - 1))
    # late costs more than early by the same amount
    assert phm08_score([100], [120]) == pytest.approx(math.exp(2) - 1)
    assert phm08_score([100], [80]) == pytest.approx(math.exp(20 / 13) - 1)
    assert phm08_score([100], [120]) > phm08_score([100], [80])


def test_rmse_and_interval_metrics() -> None:
    assert rmse([0, 0, 0, 0], [1, -1, 3, -3]) == pytest.approx(math.sqrt(5))
    assert interval_coverage([1, 5, 10], [0, 6, 10], [2, 7, 10]) == pytest.approx(2 / 3)
    assert mean_interval_width([0, 6], [2, 10]) == 3.0
    with pytest.raises(DataError, match="y_true has 2 values but y_pred has 1"):
        rmse([1, 2], [1])


def test_error_by_truth_bands_hand_computed() -> None:
    truth = np.array([10.0, 20.0, 60.0, 125.0, 125.0])
    pred = np.array([12.0, 20.0, 70.0, 115.0, 121.0])  # errors +2, 0, +10, -10, -4
    rows = error_by_truth(truth, pred, edges=(50.0, 100.0))
    assert [r["band"] for r in rows] == ["0-50", "50-100", ">= 100"]
    assert [r["engines"] for r in rows] == [2, 1, 2]
    assert rows[0]["bias"] == pytest.approx(1.0)
    assert rows[0]["rmse"] == pytest.approx(math.sqrt(2.0))
    assert rows[2]["bias"] == pytest.approx(-7.0)
    assert rows[2]["rmse"] == pytest.approx(math.sqrt(58.0))
    shares = [r["sse_share"] for r in rows]
    assert shares == pytest.approx([4 / 220, 100 / 220, 116 / 220])
    # an empty band stays in the table, so runs line up
    empty = error_by_truth(truth, pred, edges=(50.0, 55.0, 100.0))[1]
    assert empty["engines"] == 0 and empty["sse_share"] == 0.0 and math.isnan(empty["bias"])


def test_cap_rul_piecewise_linear() -> None:
    assert cap_rul(np.array([300, 126, 125, 124, 0])).tolist() == [125, 125, 125, 124, 0]
    assert cap_rul(np.array([200, 10]), 130).tolist() == [130, 10]


def test_windows_pad_with_first_row() -> None:
    norm = np.arange(12, dtype=np.float32).reshape(4, 3)  # 4 cycles, 3 features
    w = all_windows(norm, 3)
    assert w.shape == (4, 3, 3)
    assert np.array_equal(w[0], np.stack([norm[0]] * 3))  # cycle 1: padded twice
    assert np.array_equal(w[1], norm[[0, 0, 1]])
    assert np.array_equal(w[3], norm[1:4])
    assert np.array_equal(last_window(norm, 6), norm[[0, 0, 0, 1, 2, 3]])
    assert np.array_equal(last_window(norm, 2), norm[2:])


def _identity_params(window: int) -> dict:
    return {
        "n_settings": 3,
        "n_raw_sensors": 21,
        "window": window,
        "settings_center": [0, 0, 0],
        "settings_scale": [1, 1, 1],
        "centroids": [[0, 0, 0]],
        "sensor_columns": [0, 20],
        "mean": [[1.0, 0.0]],
        "std": [[2.0, 1.0]],
    }


def test_preprocess_histories_layouts() -> None:
    rng = np.random.default_rng(0)
    h = rng.normal(size=(7, 24))
    x = preprocess_histories(h, **_identity_params(5))
    assert x.shape == (1, 5, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, 0], (h[2:, 3] - 1.0) / 2.0, rtol=1e-6)
    np.testing.assert_allclose(x[0, :, 1], h[2:, 23], rtol=1e-6)
    full = np.column_stack([np.ones(7), np.arange(1, 8), h])  # unit and cycle first
    np.testing.assert_array_equal(preprocess_histories(full, **_identity_params(5)), x)
    ragged = preprocess_histories([h, h[:2]], **_identity_params(5))
    assert ragged.shape == (2, 5, 2)
    with pytest.raises(DataError, match="history 0 has shape"):
        preprocess_histories(np.zeros((5, 10)), **_identity_params(5))


def test_mondrian_intervals_cover_heteroscedastic_noise() -> None:
    rng = np.random.default_rng(1)
    pred = rng.uniform(0, 125, 8000)
    y = pred + rng.normal(0, 1 + 0.2 * pred)  # wider errors at high predicted RUL
    cal = MondrianIntervals(coverage=0.9, n_bins=4).fit(y[:4000], pred[:4000])
    lo, hi = cal.predict(pred[4000:])
    assert 0.88 <= interval_coverage(y[4000:], lo, hi) <= 0.92
    width = hi - lo
    assert width[pred[4000:] > 100].mean() > 3 * width[pred[4000:] < 25].mean()
    out = rul_with_interval(np.array([[-3.0], [60.0]]), **cal.to_params())
    assert out["rul"][0] == 0.0 and out["rul_lo"][0] == 0.0
    assert out["rul_lo"][1] <= 60.0 <= out["rul_hi"][1]


def test_preprocess_age_channel_from_length_or_cycle_column() -> None:
    h = np.random.default_rng(3).normal(size=(7, 24))
    params = {**_identity_params(4), "age_scale": 100.0}
    x = preprocess_histories(h, **params)
    assert x.shape == (1, 4, 3)
    np.testing.assert_allclose(x[0, :, 2], np.array([4, 5, 6, 7]) / 100.0, rtol=1e-6)
    full = np.column_stack([np.ones(7), np.arange(51, 58), h])  # a history starting at cycle 51
    np.testing.assert_allclose(
        preprocess_histories(full, **params)[0, :, 2], np.arange(54, 58) / 100.0, rtol=1e-6
    )


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"age_scale": None},
        {"age_scale": 100.0},
        {"baseline_cycles": 5, "age_scale": 50.0},
        {"step_cycles": 2},
        {"step_cycles": 4, "baseline_cycles": 5},
    ],
)
def test_training_windows_match_module_preprocess(extra: dict) -> None:
    """The window the model trains on at a cycle is exactly what the module builds live."""
    from edgetwin.pdm.rul.estimator import CnnRulRegressor
    from edgetwin.pdm.rul.regimes import RegimeNormalizer

    rng = np.random.default_rng(4)
    rows = np.column_stack([rng.normal(0, 0.01, (60, 3)), rng.normal(10, 2, (60, 21))])
    est = CnnRulRegressor(window=8, **extra)
    est.normalizer_ = RegimeNormalizer().fit(rows)
    est.age_scale_ = 30.0 if est.age_scale == "auto" else est.age_scale  # what fit resolves
    train = est.windows_of(rows, np.arange(1, 61))
    for t in (3, 8, 40, 60):  # shorter than the window, equal, longer
        live = preprocess_histories(rows[:t], **est.preprocess_params())
        np.testing.assert_allclose(live[0], train[t - 1], rtol=1e-5, atol=1e-5)


def test_pool_steps_averages_runs_ending_at_the_last_cycle() -> None:
    from edgetwin.pdm.rul.windows import pool_steps

    norm = np.arange(10, dtype=np.float32).reshape(5, 2)  # 5 cycles, 2 features
    w = all_windows(norm, 4)  # [5, 4, 2]
    pooled = pool_steps(w, 2)
    assert pooled.shape == (5, 2, 2) and pooled.dtype == np.float32
    # the last window holds cycles 2-5: steps (2, 3) and (4, 5), features averaged separately
    assert pooled[-1].tolist() == [[3.0, 4.0], [7.0, 8.0]]
    assert pool_steps(w, 1) is w
    with pytest.raises(DataError, match="window 4 is not a multiple of step_cycles 3"):
        pool_steps(w, 3)


def test_step_cycles_must_divide_window() -> None:
    from edgetwin.pdm.rul.estimator import CnnRulRegressor

    with pytest.raises(DataError, match="step_cycles must be >= 1 and divide window"):
        CnnRulRegressor(window=80, step_cycles=3).fit(None)  # type: ignore[arg-type]


def test_causal_baselines() -> None:
    from edgetwin.pdm.rul.windows import causal_baselines

    norm = np.array([[1.0], [3.0], [5.0], [7.0]])
    assert causal_baselines(norm, 2).ravel().tolist() == [1.0, 2.0, 2.0, 2.0]
    assert causal_baselines(norm, 10).ravel().tolist() == [1.0, 2.0, 3.0, 4.0]


def test_phm08_optimal_shift_predicts_earlier_and_lowers_score() -> None:
    from edgetwin.pdm.metrics import phm08_score
    from edgetwin.pdm.rul.conformal import phm08_optimal_shift

    rng = np.random.default_rng(0)
    y = rng.uniform(10, 125, 4000)
    p = y + rng.normal(0, 10, y.size)
    b = phm08_optimal_shift(y - p)
    # symmetric errors: late ones cost more, so the optimum predicts a few cycles earlier
    assert -5.0 < b < -1.0
    assert phm08_score(y, p + b) < 0.97 * phm08_score(y, p)  # 4.6 % lower here
    assert phm08_score(y, p + b) < min(phm08_score(y, p + b - 1), phm08_score(y, p + b + 1))
    assert phm08_optimal_shift(np.zeros(20)) == pytest.approx(0.0, abs=1e-3)


def test_phm_point_uses_per_bin_shift_and_old_params() -> None:
    from edgetwin.pdm.rul.conformal import phm_point

    params = {"edges": [50.0], "lo": [-5.0, -20.0], "hi": [5.0, 20.0], "phm_shift": [-1.0, -6.0]}
    assert phm_point(np.array([0.5, 20.0, 100.0]), params).tolist() == [0.0, 19.0, 94.0]
    old = {k: v for k, v in params.items() if k != "phm_shift"}
    assert phm_point(np.array([20.0, 100.0]), old).tolist() == [20.0, 100.0]
    cal = MondrianIntervals(coverage=0.9).fit(np.linspace(0, 125, 400), np.linspace(5, 130, 400))
    assert len(cal.to_params()["phm_shift"]) == len(cal.to_params()["lo"])


def test_age_scale_auto_is_the_training_engines_mean_life() -> None:
    from pathlib import Path

    from edgetwin.pdm.datasets.cmapss import CmapssRuns
    from edgetwin.pdm.rul.estimator import CnnRulRegressor

    lives = [30, 50, 70]
    unit = np.repeat(np.arange(1, 4), lives)
    cycle = np.concatenate([np.arange(1, n + 1) for n in lives]).astype(np.float64)
    runs = CmapssRuns(Path("train_x.txt"), unit, cycle, np.zeros((len(unit), 24)))
    assert CnnRulRegressor()._fitted_age_scale(runs) == 50.0
    assert CnnRulRegressor(max_engines=2)._fitted_age_scale(runs) == 40.0
    assert CnnRulRegressor(age_scale=120)._fitted_age_scale(runs) == 120.0
    assert CnnRulRegressor(age_scale=None)._fitted_age_scale(runs) is None
    for bad in ("mean", 0, -5.0):
        with pytest.raises(DataError, match="age_scale=.*'auto'"):
            CnnRulRegressor(age_scale=bad)._fitted_age_scale(runs)
