"""SKAB outlier scores and NAB on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from edgetwin.core.errors import DataError
from edgetwin.pdm.detect_metrics import (
    binary_scores,
    changepoints_from_outliers,
    nab_counts,
    nab_scores,
)


def test_binary_counts_are_summed_over_runs_before_ratios() -> None:
    # run 1: TP=2 TN=1 FP=1 FN=1; run 2: TP=0 TN=3 FP=0 FN=1
    true = [np.array([0, 0, 1, 1, 1]), np.array([0, 0, 0, 1])]
    pred = [np.array([0, 1, 1, 0, 1]), np.array([0, 0, 0, 0])]
    s = binary_scores(true, pred)
    assert (s.tp, s.tn, s.fp, s.fn) == (2, 4, 1, 2)
    assert s.f1 == pytest.approx(2 / (2 + (2 + 1) / 2))  # SKAB: TP / (TP + (FN + FP) / 2)
    assert s.far == pytest.approx(1 / 5)  # FP / (FP + TN)
    assert s.mar == pytest.approx(2 / 4)  # FN / (FN + TP)


def test_binary_rejects_mismatched_runs() -> None:
    with pytest.raises(DataError, match="run 0"):
        binary_scores([np.zeros(3)], [np.zeros(4)])
    with pytest.raises(DataError, match="runs"):
        binary_scores([np.zeros(3)], [])


def test_changepoints_from_outliers_is_abs_diff_with_first_kept() -> None:
    got = changepoints_from_outliers(np.array([1, 1, 0, 0, 1, 1]))
    np.testing.assert_array_equal(got, [1, 0, 1, 0, 1, 0])


def _nab_one(pred_at: list[int], cp_at: tuple[int, ...] = (10,), window: float = 20.0) -> float:
    t = np.arange(100.0)
    cp = np.zeros(100, dtype=int)
    cp[list(cp_at)] = 1
    pred = np.zeros(100, dtype=int)
    pred[pred_at] = 1
    return nab_scores([t], [cp], [pred], window_s=window, placement="righter")["standard"]


def test_nab_perfect_null_and_late_detection() -> None:
    assert _nab_one([10]) == pytest.approx(100.0)  # at the window start: A_tp = 1
    assert _nab_one([]) == pytest.approx(0.0)  # missed: A_fn = -1 = the null score
    # at the window's right edge the tanh scale reaches A_fp = -0.11: 100 * (-0.11 + 1) / 2
    assert _nab_one([30]) == pytest.approx(44.5)


def test_nab_middle_of_window_uses_skab_tanh_scale() -> None:
    x = np.linspace(-np.pi / 2, np.pi / 2, 1000)[500]  # rel = 0.5 -> index 500
    a_tp, a_fp = 1.0, -0.11
    tp = -(a_tp - a_fp) / 2 * np.tanh(x) / np.tanh(np.pi / 2) + (a_tp - a_fp) / 2 + a_fp
    assert _nab_one([20]) == pytest.approx(100 * (tp + 1) / 2)


def test_nab_false_positive_outside_window_and_only_first_in_window_counts() -> None:
    assert _nab_one([10, 50]) == pytest.approx(100 * (1 - 0.11 + 1) / 2)  # one FP after window
    assert _nab_one([10, 12, 15]) == pytest.approx(100.0)  # extra hits inside the window are free
    assert _nab_one([5, 10]) == pytest.approx(100 * (1 - 0.11 + 1) / 2)  # one FP before window


def test_nab_profiles_and_overlapping_windows() -> None:
    t = np.arange(100.0)
    cp = np.zeros(100, dtype=int)
    cp[[10, 20]] = 1  # windows [10, 40] and [20, 50] overlap; the right one is cut to [40, 50]
    pred = np.zeros(100, dtype=int)
    pred[[10, 70]] = 1
    counts = nab_counts(t, cp, pred, window_s=30.0, placement="righter")
    # standard: TP 1 at window start, FN for window 2, FP at 70
    assert counts[0] == pytest.approx([1 - 1 - 0.11, -2, 2])
    assert counts[1] == pytest.approx([1 - 1 - 0.22, -2, 2])  # low FP
    assert counts[2] == pytest.approx([1 - 2 - 0.11, -4, 2])  # low FN
    # a detection at 45 lands in the cut second window, at its middle
    pred2 = np.zeros(100, dtype=int)
    pred2[[10, 40]] = 1
    s = nab_counts(t, cp, pred2, window_s=30.0)[0, 0]
    assert s == pytest.approx(2.0, abs=1e-6)  # 40 is the start of window 2 (and end of 1)


def test_nab_center_and_lefter_windows() -> None:
    t = np.arange(100.0)
    cp = np.zeros(100, dtype=int)
    cp[50] = 1
    pred = np.zeros(100, dtype=int)
    pred[30] = 1  # lefter window [30, 50]: detection at its start
    assert nab_scores([t], [cp], [pred], window_s=20, placement="lefter")[
        "standard"
    ] == pytest.approx(100.0)
    pred = np.zeros(100, dtype=int)
    pred[40] = 1  # center window [40, 60]
    assert nab_scores([t], [cp], [pred], window_s=20, placement="center")[
        "standard"
    ] == pytest.approx(100.0)
    assert nab_scores([t], [cp], [pred], window_s=20, placement="righter")[
        "standard"
    ] == pytest.approx(100 * (-0.11 - 1 + 1) / 2)
