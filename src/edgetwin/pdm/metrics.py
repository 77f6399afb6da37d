"""Scores that make our figures comparable with published ones.

RUL metrics follow the C-MAPSS literature: RMSE in cycles and the PHM08 challenge score
(Saxena et al., 2008), an asymmetric exponential penalty that punishes late predictions
(predicted RUL above the truth, i.e. maintenance too late) harder than early ones.
Detection metrics live in `edgetwin.pdm.detect_metrics`.
"""

from __future__ import annotations

import itertools

import numpy as np

from edgetwin.core.errors import DataError


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise DataError(
            f"y_true has {t.size} values but y_pred has {p.size}; pass one prediction per truth"
        )
    if t.size == 0:
        raise DataError("y_true is empty; pass at least one engine")
    return t, p


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Root mean squared error, in the unit of the inputs (cycles for RUL)."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((p - t) ** 2)))


def phm08_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """PHM08 score: sum over engines of exp(-d/13)-1 if d<0 (early) else exp(d/10)-1, d=pred-true.

    Lower is better; 0 is perfect. A prediction 10 cycles late costs e-1 = 1.718,
    10 cycles early costs exp(10/13)-1 = 1.158.
    """
    t, p = _pair(y_true, y_pred)
    d = p - t
    return float(np.sum(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))


def interval_coverage(y_true: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Fraction of truths inside their closed prediction interval [lo, hi]."""
    t, low = _pair(y_true, lo)
    _, high = _pair(y_true, hi)
    return float(np.mean((t >= low) & (t <= high)))


def mean_interval_width(lo: np.ndarray, hi: np.ndarray) -> float:
    """Mean width hi-lo of prediction intervals (cycles for RUL)."""
    low, high = _pair(lo, hi)
    return float(np.mean(high - low))


def error_by_truth(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    edges: tuple[float, ...] = (25.0, 50.0, 75.0, 100.0, 125.0),
) -> list[dict[str, float | int | str]]:
    """Bias, RMSE and share of the squared error per band of true RUL (cycles).

    One RMSE over a test split hides where the error comes from. On C-MAPSS it is not spread
    evenly: engines near the cap's knee (true RUL 50-100) are predicted late because their
    last window still looks healthy, and engines at the cap early, and those bands carry most
    of the squared error. A model change should be judged by which band it moves, so the
    evaluation prints this beside the RMSE. Bands are [0, e1), [e1, e2), ..., [e_last, inf);
    empty bands are kept (engines 0) so tables line up across runs.
    """
    t, p = _pair(y_true, y_pred)
    d = p - t
    total = float(np.sum(d**2))
    bounds = (0.0, *(float(e) for e in edges), np.inf)
    rows: list[dict[str, float | int | str]] = []
    for lo, hi in itertools.pairwise(bounds):
        inside = (t >= lo) & (t < hi)
        n = int(inside.sum())
        label = f"{lo:g}-{hi:g}" if np.isfinite(hi) else f">= {lo:g}"
        rows.append(
            {
                "band": label,
                "engines": n,
                "bias": float(d[inside].mean()) if n else float("nan"),
                "rmse": float(np.sqrt(np.mean(d[inside] ** 2))) if n else float("nan"),
                "sse_share": float(np.sum(d[inside] ** 2) / total) if n and total > 0 else 0.0,
            }
        )
    return rows
