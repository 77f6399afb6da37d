"""Operating-regime detection and per-regime sensor standardisation.

A turbofan (or a pump, a spindle) reads very differently at different operating points: the
altitude/Mach/throttle settings of C-MAPSS move every sensor by far more than degradation does.
We detect the regimes from the operational settings alone, with no count given: KMeans for
k = 2..`max_regimes`, keeping the k with the best silhouette, and a single regime when even the
best silhouette says the settings form one blob (regimes of real machines are tight, well
separated clusters; measurement noise around one operating point is not). Each sensor is then
standardised with the mean and std of its own regime, which removes the operating point and
leaves the slow degradation trend.

Sensors that carry no trend are dropped automatically: a sensor that takes fewer than
`min_distinct` distinct values within its regimes is constant or quantised below its noise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgetwin.core.errors import DataError

N_SETTINGS = 3


class RegimeNormalizer:
    """Detects operating regimes from settings and standardises sensors per regime.

    Input rows are the 24 raw C-MAPSS measurements (3 settings, then 21 sensors); any layout of
    ``n_settings`` settings followed by sensors works.

    Parameters
    ----------
    max_regimes: largest number of regimes tried.
    min_silhouette: below this best silhouette the data are one regime.
    min_distinct: a sensor with fewer distinct values (median over regimes) is dropped.
    silhouette_sample: rows sampled to cluster and score (the silhouette is quadratic in rows).
    random_state: seed of KMeans and of the silhouette sample.
    """

    def __init__(
        self,
        max_regimes: int = 10,
        min_silhouette: float = 0.75,
        min_distinct: int = 5,
        silhouette_sample: int = 4000,
        n_settings: int = N_SETTINGS,
        random_state: int = 0,
    ) -> None:
        self.max_regimes = max_regimes
        self.min_silhouette = min_silhouette
        self.min_distinct = min_distinct
        self.silhouette_sample = silhouette_sample
        self.n_settings = n_settings
        self.random_state = random_state

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, rows: np.ndarray) -> RegimeNormalizer:
        """Learn regimes (``n_regimes_``, ``centroids_``) and per-regime sensor statistics."""
        rows = self._check(rows)
        settings = rows[:, : self.n_settings]
        self.settings_center_ = settings.mean(axis=0)
        scale = settings.std(axis=0)
        self.settings_scale_ = np.where(scale > 1e-12, scale, 1.0)
        z = (settings - self.settings_center_) / self.settings_scale_
        self.n_regimes_, self.centroids_, self.silhouette_ = self._choose_k(z)
        labels = self._assign(z)
        sensors = rows[:, self.n_settings :]
        n_sens = sensors.shape[1]
        mean = np.zeros((self.n_regimes_, n_sens))
        std = np.ones((self.n_regimes_, n_sens))
        distinct = np.zeros((self.n_regimes_, n_sens))
        for k in range(self.n_regimes_):
            block = sensors[labels == k]
            if len(block) < 2:
                raise DataError(
                    f"regime {k} holds {len(block)} rows; need at least 2 to standardise"
                )
            mean[k] = block.mean(axis=0)
            sd = block.std(axis=0)
            std[k] = np.where(sd > 1e-12, sd, 1.0)
            distinct[k] = [np.unique(block[:, j]).size for j in range(n_sens)]
        keep = np.median(distinct, axis=0) >= self.min_distinct
        if not keep.any():
            raise DataError("every sensor is constant within its regimes; nothing to learn from")
        self.sensor_columns_ = np.flatnonzero(keep)
        self.mean_ = mean[:, keep]
        self.std_ = std[:, keep]
        return self

    def _check(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] <= self.n_settings:
            raise DataError(
                f"rows have shape {rows.shape}, expected [n, {self.n_settings} settings + sensors]"
            )
        return rows

    def _choose_k(self, z: np.ndarray) -> tuple[int, np.ndarray, float]:
        # KMeans and the silhouette run on a row sample: regimes are tight clusters, so a few
        # thousand rows place the centroids as well as all of them, at a fraction of the cost.
        # scikit-learn is imported here, for fitting only: the module's pre-step
        # (`normalize_rows`) and every `edgetwin` command that imports this package do not
        # need it (about a second of start-up).
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        rng = np.random.default_rng(self.random_state)
        n = len(z)
        zs = z[rng.choice(n, size=min(n, self.silhouette_sample), replace=False)]
        best: tuple[float, int, np.ndarray] = (-1.0, 1, z.mean(axis=0, keepdims=True))
        for k in range(2, min(self.max_regimes, len(zs) - 1) + 1):
            km = KMeans(n_clusters=k, n_init=3, random_state=self.random_state).fit(zs)
            if np.unique(km.labels_).size < 2:
                continue
            s = float(silhouette_score(zs, km.labels_))
            if s > best[0]:
                best = (s, k, km.cluster_centers_)
        sil, k, centers = best
        if sil < self.min_silhouette:
            return 1, z.mean(axis=0, keepdims=True), sil
        return k, centers, sil

    def _assign(self, z: np.ndarray) -> np.ndarray:
        d = ((z[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(axis=2)
        return np.argmin(d, axis=1)

    # -- applying ----------------------------------------------------------------------------
    def to_params(self) -> dict[str, Any]:
        """JSON-able parameters that `normalize_rows` needs (they go in the module manifest)."""
        return {
            "n_settings": int(self.n_settings),
            "settings_center": self.settings_center_.tolist(),
            "settings_scale": self.settings_scale_.tolist(),
            "centroids": self.centroids_.tolist(),
            "sensor_columns": [int(c) for c in self.sensor_columns_],
            "mean": self.mean_.tolist(),
            "std": self.std_.tolist(),
        }

    def transform(self, rows: np.ndarray) -> np.ndarray:
        """Standardised kept sensors, [n, n_kept], float32."""
        return normalize_rows(self._check(rows), self.to_params())


def regime_labels(rows: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Regime index of each raw row, from the settings and the stored centroids."""
    ns = int(params["n_settings"])
    z = (rows[:, :ns] - np.asarray(params["settings_center"])) / np.asarray(
        params["settings_scale"]
    )
    c = np.asarray(params["centroids"], dtype=np.float64)
    d = ((z[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)
    return np.argmin(d, axis=1)


def normalize_rows(rows: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """Raw rows [n, settings+sensors] -> per-regime standardised kept sensors [n, n_kept] float32."""
    rows = np.asarray(rows, dtype=np.float64)
    ns = int(params["n_settings"])
    labels = regime_labels(rows, params)
    cols = np.asarray(params["sensor_columns"], dtype=np.int64)
    sensors = rows[:, ns:][:, cols]
    mean = np.asarray(params["mean"])[labels]
    std = np.asarray(params["std"])[labels]
    return ((sensors - mean) / std).astype(np.float32)
