"""Per-run calibration: where a run's normal level is and how far it may wander.

SKAB (and most plants) let a detector see the first rows of each run as normal: the testbed
is restarted between runs, so absolute levels (temperatures, flow) differ from run to run and
a model of absolute values does not transfer. We therefore standardise each run on its own
first rows. The plain standard deviation of a short window under-states slowly drifting
signals (a motor temperature changes by 0.05 degC in 400 s but by several degC over the
next 15 minutes), so the scale is the standard deviation the signal is *expected to reach*
after ``horizon`` samples (the span monitored after calibration), extrapolated from the window's variogram:

    V(lag) = 0.5 * mean((x[t + lag] - x[t])^2),   V(lag) ~ a + b * lag  (least squares, b >= 0)
    scale  = sqrt(max(a + b * horizon, var(x)))

White-noise signals have a flat variogram (scale = their std); random-walk-like signals get
a scale that grows with the horizon. Everything is numpy and runs on the edge box.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from edgetwin.core.errors import DataError

log = logging.getLogger(__name__)

#: Smallest scale, so a constant signal in the calibration rows does not divide by zero.
MIN_SCALE = 1e-6


@dataclass(frozen=True)
class Calibration:
    """Per-run standardisation: ``z = (x - mean) / scale`` (same units as x for both)."""

    mean: np.ndarray
    scale: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Standardise rows [..., features] with this calibration (float32 for ONNX)."""
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.scale).astype(np.float32)


def drift_scale(x: np.ndarray, horizon: float, max_lag: int | None = None) -> np.ndarray:
    """Per-feature scale a signal is expected to reach ``horizon`` samples after the window.

    ``x`` is [rows, features] of normal data; ``max_lag`` defaults to half the rows.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 8:
        raise DataError(f"calibration rows have shape {x.shape}, expected [rows >= 8, features]")
    max_lag = max_lag or x.shape[0] // 2
    lags = np.arange(1, max_lag + 1)
    var = np.stack([0.5 * np.mean((x[lag:] - x[:-lag]) ** 2, axis=0) for lag in lags])
    design = np.stack([np.ones(lags.size), lags.astype(np.float64)], axis=1)
    coef, *_ = np.linalg.lstsq(design, var, rcond=None)
    intercept, slope = coef[0], np.maximum(coef[1], 0.0)
    reach = np.maximum(intercept + slope * float(horizon), x.var(axis=0))
    return np.maximum(np.sqrt(reach), MIN_SCALE)


def calibrate(x_normal: np.ndarray, horizon: float) -> Calibration:
    """Calibration from a run's normal rows [rows, features] (SKAB: its first 400)."""
    x = np.asarray(x_normal, dtype=np.float64)
    scale = drift_scale(x, horizon)
    flat = np.flatnonzero(scale <= MIN_SCALE)
    if flat.size:
        # any later change of a sensor that was constant while calibrating scores as huge
        log.warning(
            "features %s are constant in the calibration rows; any change will alarm", flat.tolist()
        )
    return Calibration(mean=x.mean(axis=0), scale=scale)


def normal_segments(
    runs: list[tuple[np.ndarray, np.ndarray | None]], calibration_rows: int
) -> list[np.ndarray]:
    """Normal training segments from (values, anomaly-labels-or-None) runs.

    An unlabelled run (SKAB's anomaly-free file) is all normal and is cut into consecutive
    ``calibration_rows`` segments, each standing for one more "first rows of a run"; a
    labelled run contributes only its first ``calibration_rows`` rows, and only if they are
    labelled normal. Nothing after the calibration rows of a labelled run is ever used.
    """
    segs: list[np.ndarray] = []
    for values, labels in runs:
        values = np.asarray(values, dtype=np.float64)
        if labels is None:
            for start in range(0, values.shape[0] - calibration_rows + 1, calibration_rows):
                segs.append(values[start : start + calibration_rows])
        elif values.shape[0] >= calibration_rows and not np.any(labels[:calibration_rows] == 1):
            segs.append(values[:calibration_rows])
    if not segs:
        raise DataError(
            f"no normal segment of {calibration_rows} rows found; give an anomaly-free file or "
            f"labelled runs whose first {calibration_rows} rows are normal"
        )
    return segs
