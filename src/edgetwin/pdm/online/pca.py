"""PCA with Hotelling T² and Q (SPE) statistics: the classic multivariate process monitor.

Why PCA T²/Q for the first detector: it needs no labels, fits in milliseconds on a few dozen
healthy windows, captures the correlation between process signals (current rises with load,
so a high current at low flow is odd even when both are in range), and its two statistics
say *how* a window is odd — T² inside the normal subspace, Q off it.
Limits follow Jackson & Mudholkar (1979) for Q and the F distribution for T², at `alpha`.
Those limits assume independent Gaussian rows; real windows are autocorrelated and drift a
little, so `fit` also scores the last `calibration` share of the healthy rows with a model fitted
on the rest and widens the limit to `margin` times the worst held-out score (never less than
`min_scale`). A score of 1.0 is then the alarm limit, calibrated on the plant's own data.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy import stats

from edgetwin.core.errors import DataError


class PCAT2Q:
    """scikit-learn-style: `fit(X)` on healthy rows, `score_samples(X)` = max(T²/lim, Q/lim)."""

    def __init__(
        self,
        variance: float = 0.9,
        alpha: float = 1e-3,
        min_std: float = 1e-6,
        calibration: float = 0.25,
        margin: float = 2.0,
        min_scale: float = 3.0,
    ) -> None:
        self.variance = variance
        self.alpha = alpha
        self.min_std = min_std
        self.calibration = calibration
        self.margin = margin
        self.min_scale = min_scale

    def fit(self, X: np.ndarray) -> PCAT2Q:
        X = np.asarray(X, dtype=np.float64)
        n, m = X.shape
        if n < m + 3:
            raise DataError(
                f"PCAT2Q.fit needs more rows than features + 2 (got {n} rows, {m} features)"
            )
        self.limit_scale_ = 1.0
        n_cal = int(n * self.calibration)
        if self.calibration > 0 and n_cal >= 3 and n - n_cal >= m + 3:
            inner = PCAT2Q(self.variance, self.alpha, self.min_std, calibration=0.0)
            held_out = inner.fit(X[:-n_cal]).score_samples(X[-n_cal:])
            self.limit_scale_ = max(self.min_scale, self.margin * float(held_out.max()))
        elif self.calibration > 0:
            self.limit_scale_ = self.min_scale
        self._fit_pca(X)
        return self

    def _fit_pca(self, X: np.ndarray) -> None:
        n, m = X.shape
        self.mean_ = X.mean(axis=0)
        self.scale_ = np.maximum(
            X.std(axis=0, ddof=1), self.min_std * np.maximum(1.0, np.abs(self.mean_))
        )
        Z = (X - self.mean_) / self.scale_
        _, s, vt = np.linalg.svd(Z, full_matrices=False)
        eig = s**2 / (n - 1)
        ratio = np.cumsum(eig) / eig.sum()
        k = int(np.searchsorted(ratio, self.variance) + 1)
        k = min(k, m - 1) if m > 1 else 1
        self.n_components_ = k
        self.components_ = vt[:k].T  # m x k
        self.eigenvalues_ = eig[:k]
        f = stats.f.ppf(1 - self.alpha, k, n - k)
        self.t2_limit_ = k * (n - 1) * (n + 1) / (n * (n - k)) * f
        rest = eig[k:]
        self.q_limit_ = self._q_limit(rest) if rest.size and rest.sum() > 0 else 1e-12

    def _q_limit(self, rest: np.ndarray) -> float:
        t1, t2, t3 = (float(np.sum(rest**i)) for i in (1, 2, 3))
        h0 = 1 - 2 * t1 * t3 / (3 * t2**2)
        h0 = max(h0, 1e-3)
        c = stats.norm.ppf(1 - self.alpha)
        term = c * np.sqrt(2 * t2 * h0**2) / t1 + 1 + t2 * h0 * (h0 - 1) / t1**2
        return float(t1 * max(term, 1e-12) ** (1 / h0))

    def statistics(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """T², Q and the per-feature squared residuals (which feature breaks the model)."""
        Z = (np.atleast_2d(np.asarray(X, dtype=np.float64)) - self.mean_) / self.scale_
        T = Z @ self.components_
        t2 = np.sum(T**2 / self.eigenvalues_, axis=1)
        resid = Z - T @ self.components_.T
        return t2, np.sum(resid**2, axis=1), resid**2

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Anomaly score: 1.0 is the calibrated alarm limit; healthy windows sit well below."""
        t2, q, _ = self.statistics(X)
        return np.maximum(t2 / self.t2_limit_, q / self.q_limit_) / self.limit_scale_

    def fingerprint(self) -> str:
        """sha256 of the learned state: names the exact model behind a decision in the ledger."""
        h = hashlib.sha256()
        for arr in (self.mean_, self.scale_, self.components_, self.eigenvalues_):
            h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
        h.update(np.array([self.t2_limit_, self.q_limit_, self.limit_scale_]).tobytes())
        return h.hexdigest()

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-feature share of the standardised deviation of one row (sums to 1)."""
        z2 = ((np.asarray(x, dtype=np.float64) - self.mean_) / self.scale_) ** 2
        total = z2.sum()
        return z2 / total if total > 0 else z2
