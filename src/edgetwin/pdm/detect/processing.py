"""The numpy steps around the detector's ONNX graph, named in its edge-module manifest.

SKAB's protocol calibrates every run on its own first rows, so a module cannot bake the
standardisation into its graph: the graph takes standardised rows, and these two functions
do the per-run calibration before and the thresholding after. `EdgeModule.predict(x)` on a
whole run ``x`` [rows, features] (raw units) then reproduces the benchmark protocol:

1. ``standardize_first_rows``: mean and drift-aware scale from ``x[:calibration_rows]``
   (`calibration.calibrate`; slow features keep the scale learnt in training,
   ``fixed_scale``), returns ``z`` [1, rows, features] float32;
2. the ONNX graph: per-feature filter (EWMA, or EWMA of the change over ``slow_lag`` rows)
   and Hotelling T2 -> ``score`` [1, rows];
3. ``flags_hysteresis``: alarm on above ``on`` (the threshold learnt in training), off again
   below ``off``; returns 0/1 flags [rows].

A live deployment runs the same calibration once on a known-normal window and keeps
``mean``/``scale`` (see `calibration.Calibration`); the threshold is fixed in the manifest.
`flags_from_first_rows` (a per-run threshold from the calibration rows' own scores) is the
rule of the first version, kept for modules built with it.
"""

from __future__ import annotations

import numpy as np

from edgetwin.core.errors import DataError
from edgetwin.pdm.detect.calibration import calibrate


def standardize_first_rows(
    x: np.ndarray,
    calibration_rows: int,
    horizon: float,
    fixed_scale: list[float | None] | None = None,
) -> np.ndarray:
    """Standardise a run [rows, features] on its first ``calibration_rows`` rows -> [1, rows, D].

    ``fixed_scale``: per feature a scale learnt in training (slow features) or None/NaN to
    estimate it from the calibration rows.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] <= calibration_rows:
        raise DataError(
            f"run has shape {arr.shape}, expected [rows > {calibration_rows}, features] "
            "(the first rows calibrate the detector)"
        )
    fixed = (
        None
        if fixed_scale is None
        else np.array([np.nan if v is None else v for v in fixed_scale], dtype=np.float64)
    )
    return calibrate(arr[:calibration_rows], horizon, fixed).apply(arr)[None]


def hysteresis_flags(score: np.ndarray, on: float, off: float) -> np.ndarray:
    """0/1 flag per row: set when the score exceeds ``on``, cleared when it falls to ``off``.

    ``off <= on``; with ``off == on`` this is a plain threshold. Causal: row t depends only on
    rows up to t.
    """
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    if off > on:
        raise DataError(f"hysteresis off level {off} is above the on level {on}; need off <= on")
    flags = np.zeros(s.size, dtype=np.int8)
    state = False
    for t, v in enumerate(s):
        state = bool(v > off) if state else bool(v > on)
        flags[t] = state
    return flags


def flags_hysteresis(score: np.ndarray, on: float, off: float) -> np.ndarray:
    """Manifest postprocess step: `hysteresis_flags` of a [1, rows] (or [rows]) score."""
    return hysteresis_flags(score, on, off)


def threshold_first_rows(
    score: np.ndarray, calibration_rows: int, warmup: int, quantile: float, factor: float
) -> float:
    """``factor`` x ``quantile`` of ``score[warmup:calibration_rows]`` (dimensionless T2)."""
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    return float(
        factor * np.quantile(s[min(warmup, calibration_rows // 2) : calibration_rows], quantile)
    )


def flags_from_first_rows(
    score: np.ndarray, calibration_rows: int, warmup: int, quantile: float, factor: float
) -> np.ndarray:
    """0/1 anomaly flag per row: score above the run's own calibration threshold."""
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    thr = threshold_first_rows(s, calibration_rows, warmup, quantile, factor)
    return (s > thr).astype(np.int8)


def standardize_rows(x: np.ndarray, mean: list[float], scale: list[float]) -> np.ndarray:
    """Fixed calibration (e.g. TEP's d00): rows [rows, features] -> z [1, rows, features]."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != len(mean):
        raise DataError(f"input shape {arr.shape}, expected [rows, {len(mean)}] raw sensor values")
    return ((arr - np.asarray(mean)) / np.asarray(scale)).astype(np.float32)[None]


def flags_above(score: np.ndarray, value: float) -> np.ndarray:
    """0/1 flag per row of a [1, rows] (or [rows]) score: above the fixed threshold ``value``."""
    return (np.asarray(score, dtype=np.float64).reshape(-1) > value).astype(np.int8)
