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
a scale that grows with the horizon.

Some sensors drift so much in normal operation that no level model survives a run (SKAB's
motor and fluid temperatures wander by several degC in 15 minutes, more than any 400-row
window shows). For those *slow* features the detector watches the change over ``lag`` samples
(`slow_features` picks them from the normal data; `increment_scale` gives their fixed scale,
pooled over every normal segment so one quiet calibration window cannot make a routine
excursion look huge). `same_operating_point` drops normal data recorded at another operating
point, which describes the monitored process badly. Everything is numpy and runs on the edge box.
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


def calibrate(
    x_normal: np.ndarray, horizon: float, fixed_scale: np.ndarray | None = None
) -> Calibration:
    """Calibration from a run's normal rows [rows, features] (SKAB: its first 400).

    ``fixed_scale`` [features] overrides the scale where it is finite (NaN: estimate it here);
    the detector fixes the scale of its slow features this way (`increment_scale`).
    """
    x = np.asarray(x_normal, dtype=np.float64)
    scale = drift_scale(x, horizon)
    if fixed_scale is not None:
        fixed = np.asarray(fixed_scale, dtype=np.float64)
        if fixed.shape != scale.shape:
            raise DataError(f"fixed_scale has shape {fixed.shape}, expected {scale.shape}")
        scale = np.where(np.isfinite(fixed), fixed, scale)
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


def variance_ratio(segments: list[np.ndarray], lag: int) -> np.ndarray:
    """Pooled variogram ratio ``V(lag) / V(1)`` per feature (dimensionless).

    ``V`` is averaged over the segments before the ratio is taken (segments with no more
    than ``lag`` rows are skipped), so a few quiet segments do not decide it. About 1 for
    white noise, about ``lag`` for a random walk.
    """
    v1, vl = [], []
    for seg in segments:
        x = np.asarray(seg, dtype=np.float64)
        if x.shape[0] <= lag:
            continue
        v1.append(0.5 * np.mean((x[1:] - x[:-1]) ** 2, axis=0))
        vl.append(0.5 * np.mean((x[lag:] - x[:-lag]) ** 2, axis=0))
    if not v1:
        raise DataError(f"no normal segment has more than {lag} rows, needed for lag {lag}")
    return np.asarray(np.mean(vl, axis=0) / np.maximum(np.mean(v1, axis=0), MIN_SCALE**2))


def slow_features(segments: list[np.ndarray], lag: int) -> list[int]:
    """Features whose normal behaviour is closer to a random walk than to noise.

    A feature is slow when its variance ratio ``V(lag)/V(1)`` exceeds ``sqrt(lag)``, the
    geometric middle between white noise (1) and a random walk (``lag``).
    """
    if lag < 2:
        return []
    return [int(i) for i in np.flatnonzero(variance_ratio(segments, lag) > np.sqrt(lag))]


def increment_scale(segments: list[np.ndarray], features: list[int], lag: int) -> np.ndarray:
    """RMS of ``x[t] - x[t - lag]`` per feature, pooled over all segments (feature units).

    Returns a [n_features] array with NaN for features not listed, for `calibrate`'s
    ``fixed_scale``.
    """
    d = np.asarray(segments[0]).shape[1]
    out = np.full(d, np.nan)
    if not features:
        return out
    inc = [
        np.asarray(s, dtype=np.float64)[lag:] - np.asarray(s, dtype=np.float64)[:-lag]
        for s in segments
        if len(s) > lag
    ]
    if not inc:
        raise DataError(f"no normal segment is longer than the slow lag {lag}")
    pooled = np.concatenate(inc)[:, features]
    out[features] = np.maximum(np.sqrt(np.mean(pooled**2, axis=0)), MIN_SCALE)
    return out


def same_operating_point(
    candidates: list[np.ndarray], reference: list[np.ndarray], tolerance: float = 6.0
) -> list[bool]:
    """Which candidate segments were recorded at the operating point of the reference ones.

    Per feature the reference level is the median of the reference segments' means and its
    spread the larger of their robust spread (1.4826 MAD) and their median within-segment
    standard deviation; a candidate matches when every feature's mean lies within
    ``tolerance`` spreads. SKAB: the anomaly-free run (125 L/min, 2.4 A) does not match the
    valve runs (32 L/min, 1.0 A), whose first rows then are the only normal data.
    """
    means = np.stack([np.asarray(r, dtype=np.float64).mean(axis=0) for r in reference])
    stds = np.stack([np.asarray(r, dtype=np.float64).std(axis=0) for r in reference])
    centre = np.median(means, axis=0)
    spread = np.maximum(1.4826 * np.median(np.abs(means - centre), axis=0), np.median(stds, axis=0))
    spread = np.maximum(spread, MIN_SCALE)
    return [
        bool(
            np.all(
                np.abs(np.asarray(c, dtype=np.float64).mean(axis=0) - centre) <= tolerance * spread
            )
        )
        for c in candidates
    ]
