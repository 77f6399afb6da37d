"""PCA T2 / SPE (Q) monitoring: the classic multivariate SPC baseline.

Fitted on normal data [rows, features] (standardised with the training mean/std), with
``n_components`` principal components (or the fewest that explain ``variance`` of it). Control
limits at confidence ``alpha``: Hotelling T2 from the F distribution,
``a (n-1)(n+1) / (n (n-a)) F(a, n-a)``, and SPE from Jackson & Mudholkar (1979). This is the
PCA baseline of Russell, Chiang & Braatz (2000) for the Tennessee Eastman process and the
"T2+Q" row of the SKAB leaderboard.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from edgetwin.core.errors import DataError


class PcaT2Spe:
    """PCA monitoring with T2 and SPE charts (scikit-learn contract)."""

    def __init__(
        self, n_components: int | None = None, variance: float = 0.9, alpha: float = 0.99
    ) -> None:
        self.n_components = n_components
        self.variance = variance
        self.alpha = alpha

    def fit(self, x: np.ndarray) -> PcaT2Spe:
        """Fit on normal rows [n, features]."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] <= x.shape[1]:
            raise DataError(f"PCA needs more rows than features, got shape {x.shape}")
        n, d = x.shape
        self.mean_ = x.mean(axis=0)
        self.std_ = np.where(x.std(axis=0, ddof=1) > 0, x.std(axis=0, ddof=1), 1.0)
        z = (x - self.mean_) / self.std_
        _, s, vt = np.linalg.svd(z, full_matrices=False)
        eig = s**2 / (n - 1)
        if self.n_components is None:
            a = int(np.searchsorted(np.cumsum(eig) / eig.sum(), self.variance) + 1)
        else:
            a = int(self.n_components)
        a = max(1, min(a, d - 1))
        self.n_components_ = a
        self.components_ = vt[:a].T  # [d, a]
        self.eigenvalues_ = eig[:a]
        self.t2_limit_ = float(
            a * (n - 1) * (n + 1) / (n * (n - a)) * stats.f.ppf(self.alpha, a, n - a)
        )
        rest = eig[a:]
        th1, th2, th3 = (float(np.sum(rest**k)) for k in (1, 2, 3))
        h0 = 1 - 2 * th1 * th3 / (3 * th2**2)
        c = stats.norm.ppf(self.alpha)
        self.spe_limit_ = float(
            th1
            * (c * np.sqrt(2 * th2 * h0**2) / th1 + 1 + th2 * h0 * (h0 - 1) / th1**2) ** (1 / h0)
        )
        return self

    def statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(T2, SPE) per row of x [rows, features]."""
        if not hasattr(self, "components_"):
            raise DataError("PCA baseline is not fitted; call fit(x_normal) first")
        z = (np.asarray(x, dtype=np.float64) - self.mean_) / self.std_
        t = z @ self.components_
        t2 = np.sum(t**2 / self.eigenvalues_, axis=1)
        spe = np.sum((z - t @ self.components_.T) ** 2, axis=1)
        return t2, spe

    def flags(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """0/1 flags per chart: ``t2``, ``spe`` and ``either`` (T2 or SPE above its limit)."""
        t2, spe = self.statistics(x)
        f_t2, f_spe = t2 > self.t2_limit_, spe > self.spe_limit_
        return {
            "t2": f_t2.astype(np.int8),
            "spe": f_spe.astype(np.int8),
            "either": (f_t2 | f_spe).astype(np.int8),
        }
