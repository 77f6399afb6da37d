"""Conformal calibration free of early stopping's choice: each half of a member's held-out fold
is predicted at the epoch the *other* half chose (`cross_selected`), never at one it chose."""

from __future__ import annotations

import numpy as np
import pytest

from edgetwin.pdm.metrics import rmse
from edgetwin.pdm.rul.estimator import _fold_arrays, cross_selected


def _curves() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Six windows (A = first three, B = last three), four epochs: epoch 1 is best on A,
    epoch 2 best on B, epoch 3 best on the whole fold."""
    y = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0])
    half_b = np.array([False, False, False, True, True, True])
    err = {  # per epoch: error on A's windows, error on B's windows
        0: (9.0, 9.0),
        1: (0.5, 8.0),
        2: (8.0, 0.5),
        3: (3.0, 3.0),
    }
    preds = np.stack([y + np.where(half_b, b, a) for a, b in err.values()])
    assert int(np.argmin([rmse(y, p) for p in preds])) == 3  # the epoch a member keeps
    return y, preds, half_b


def test_each_half_is_scored_at_the_epoch_the_other_half_chose() -> None:
    y, preds, half_b = _curves()
    got = cross_selected(y, preds, half_b)
    np.testing.assert_array_equal(got[~half_b], preds[2][~half_b])  # A at B's best epoch
    np.testing.assert_array_equal(got[half_b], preds[1][half_b])  # B at A's best epoch
    # honest residuals are larger than the kept epoch's (which the whole fold chose) here
    assert rmse(y, got) > rmse(y, preds[3])


def test_half_b_mask_follows_odd_positions_of_the_fold_engines() -> None:
    xs = [np.full((n, 2, 3), i, dtype=np.float32) for i, n in enumerate((3, 4, 2, 5))]
    ys = [np.full(n, float(i), dtype=np.float32) for i, n in enumerate((3, 4, 2, 5))]
    xtr, ytr, xva, yva, half_b = _fold_arrays(xs, ys, np.array([0]), np.array([1, 2, 3]))
    assert xtr.shape == (3, 2, 3) and len(ytr) == 3
    assert len(xva) == len(yva) == len(half_b) == 11
    # engines 1, 2, 3 held out: positions 0 and 2 (engines 1, 3) are half A, engine 2 is half B
    np.testing.assert_array_equal(half_b, yva == 2.0)


@pytest.mark.parametrize("mask", [np.zeros(6, dtype=bool), np.ones(6, dtype=bool)])
def test_a_fold_without_two_halves_falls_back_to_the_whole_fold_best_epoch(mask) -> None:
    y, preds, _ = _curves()
    np.testing.assert_array_equal(cross_selected(y, preds, mask), preds[3])
