"""Split-conformal prediction intervals for RUL, binned by the predicted RUL (Mondrian).

RUL errors are heteroscedastic: near failure the trend is steep and predictions are tight; in
mid-life the model must guess the onset of degradation and errors are wide. One global
residual quantile would be too wide near failure and too narrow mid-life, so the calibration
residuals (on engines the model never trained on) are split into bins of predicted RUL and each
bin gets its own lower and upper quantiles of the signed residual y - y_hat, at alpha/2 and
1 - alpha/2 with the finite-sample correction. Coverage is guaranteed per bin when test points
are exchangeable with the calibration points; `bench/pdm_cmapss.py` measures it on the official
test split.

The same calibration residuals give a second point estimate for users who pay for late
warnings: per bin, the shift of the prediction that minimises the mean PHM08 score (late errors
cost exp(d/10), early ones exp(-d/13)) on engines the model never saw (`phm_point`). It is one
stated rule for every fleet, learned like the interval bounds, and reported beside the mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgetwin.core.errors import DataError


def phm08_optimal_shift(residuals: np.ndarray) -> float:
    """Shift b (cycles) minimising the mean PHM08 score of predictions p + b given y - p residuals.

    The mean score is convex in b, so a bounded scalar search finds the optimum; b is negative
    when late errors dominate (predicting earlier is cheaper).
    """
    from scipy.optimize import minimize_scalar

    r = np.asarray(residuals, dtype=np.float64).ravel()
    if r.size == 0:
        return 0.0

    def mean_score(b: float) -> float:
        d = b - r  # (p + b) - y
        return float(np.mean(np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))))

    span = float(np.ptp(r)) + 1.0
    res = minimize_scalar(mean_score, bounds=(-span, span), method="bounded")
    return float(res.x)


def _conformal_quantile(scores: np.ndarray, level: float) -> float:
    n = scores.size
    q = min(1.0, np.ceil((n + 1) * level) / n)
    return float(np.quantile(scores, q, method="higher"))


class MondrianIntervals:
    """Per-bin conformal quantiles of signed residuals; ``coverage`` is the target (e.g. 0.9)."""

    def __init__(self, coverage: float = 0.9, n_bins: int = 4, min_per_bin: int = 50) -> None:
        self.coverage = coverage
        self.n_bins = n_bins
        self.min_per_bin = min_per_bin

    def fit(self, y_true: np.ndarray, y_pred: np.ndarray) -> MondrianIntervals:
        """Learn bin edges (``edges_``) and per-bin residual bounds (``lo_``, ``hi_``, cycles)."""
        t = np.asarray(y_true, dtype=np.float64).ravel()
        p = np.asarray(y_pred, dtype=np.float64).ravel()
        if t.shape != p.shape or t.size == 0:
            raise DataError(
                f"calibration needs matching non-empty arrays, got {t.size} and {p.size}"
            )
        if not 0.0 < self.coverage < 1.0:
            raise DataError(f"coverage {self.coverage} must be in (0, 1), e.g. 0.9")
        n_bins = max(1, min(self.n_bins, t.size // self.min_per_bin))
        inner = np.quantile(p, np.linspace(0, 1, n_bins + 1)[1:-1]) if n_bins > 1 else np.array([])
        self.edges_ = np.unique(inner)
        bins = np.searchsorted(self.edges_, p, side="right")
        alpha = 1.0 - self.coverage
        r = t - p
        self.lo_ = np.zeros(len(self.edges_) + 1)
        self.hi_ = np.zeros(len(self.edges_) + 1)
        self.phm_shift_ = np.zeros(len(self.edges_) + 1)
        for b in range(len(self.edges_) + 1):
            rb = r[bins == b]
            self.lo_[b] = -_conformal_quantile(-rb, 1.0 - alpha / 2)
            self.hi_[b] = _conformal_quantile(rb, 1.0 - alpha / 2)
            self.phm_shift_[b] = phm08_optimal_shift(rb)
        return self

    def to_params(self) -> dict[str, Any]:
        """JSON-able parameters for `rul_intervals` (the module's postprocess params)."""
        return {
            "coverage": float(self.coverage),
            "edges": self.edges_.tolist(),
            "lo": self.lo_.tolist(),
            "hi": self.hi_.tolist(),
            "phm_shift": self.phm_shift_.round(3).tolist(),
        }

    def predict(self, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) interval of each point prediction, in cycles, floored at zero."""
        return rul_intervals(y_pred, self.to_params())


def rul_with_interval(rul: np.ndarray, **params: Any) -> dict[str, np.ndarray]:
    """Module postprocess: graph output [batch, 1] -> {"rul", "rul_lo", "rul_hi"} in cycles.

    The keys are the twin's derived signal names, so the runtime publishes them as
    ``<asset>/rul``, ``<asset>/rul_lo`` and ``<asset>/rul_hi``. Point predictions are floored
    at 0 (an engine cannot have negative life left).
    """
    p = np.maximum(np.asarray(rul, dtype=np.float64).ravel(), 0.0)
    lo, hi = rul_intervals(p, params)
    return {"rul": p, "rul_lo": np.minimum(lo, p), "rul_hi": np.maximum(hi, p)}


def phm_point(y_pred: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """PHM08-score-optimal point estimate: each prediction plus its bin's ``phm_shift`` (cycles).

    Lower mean PHM08 score than the plain prediction on the calibration engines, at some cost
    in RMSE; floored at 0. Modules without ``phm_shift`` (older ones) return the input.
    """
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if "phm_shift" not in params:
        return p
    b = np.searchsorted(np.asarray(params["edges"], dtype=np.float64), p, side="right")
    return np.maximum(p + np.asarray(params["phm_shift"], dtype=np.float64)[b], 0.0)


def rul_intervals(y_pred: np.ndarray, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Interval bounds for point predictions from stored Mondrian params; RUL is never below 0."""
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    b = np.searchsorted(np.asarray(params["edges"], dtype=np.float64), p, side="right")
    lo = np.maximum(p + np.asarray(params["lo"])[b], 0.0)
    hi = np.maximum(p + np.asarray(params["hi"])[b], 0.0)
    return lo, hi
