"""MEWMA-T2 detector: smoothed, per-run standardised signals scored by one global precision.

Why this shape (measured on SKAB, see docs/pdm_detection.md):
- per-run standardisation on the run's first rows (`calibration.py`) removes the run-to-run
  level changes of the testbed; its drift-aware scale keeps slow temperature drift from
  raising alarms;
- an exponentially weighted moving average (span ``span`` samples, a causal FIR of ``taps``
  taps so the ONNX graph is a plain convolution) averages the 1-second noise away, which is
  what makes small sustained shifts (a valve closing costs ~1 L/min of flow) visible: the
  multivariate EWMA chart of Lowry et al. (1992);
- one covariance of the smoothed, standardised signals pooled over every normal segment
  (all runs' first rows plus the anomaly-free run cut into segments) is far better estimated
  than one per 400-row run, and encodes how sensors move together;
- the score is Hotelling's T2 of the smoothed vector, ``s = z_s^T P z_s`` (dimensionless);
  a run's threshold is ``factor`` times the ``quantile`` of its own calibration-row scores,
  one rule for every run, nothing fitted on labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgetwin.core.errors import DataError
from edgetwin.pdm.detect.calibration import Calibration, calibrate
from edgetwin.pdm.detect.processing import threshold_first_rows


def ewma_kernel(span: float, taps: int) -> np.ndarray:
    """Causal EWMA weights ``w[j]`` for lag j = 0..taps-1 (alpha = 2/(span+1)), summing to 1."""
    if span < 1 or taps < 1:
        raise DataError(f"span={span}, taps={taps}: both must be >= 1")
    alpha = 2.0 / (span + 1.0)
    w = alpha * (1.0 - alpha) ** np.arange(taps)
    return w / w.sum()


def causal_smooth(z: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Filter [T, D] or [B, T, D] along time with ``kernel``; rows before the start count as 0.

    Zero is the calibration mean in standardised units, so the filter starts "at normal".
    """
    z = np.asarray(z, dtype=np.float64)
    squeeze = z.ndim == 2
    zb = z[None] if squeeze else z
    t = zb.shape[1]
    out = np.zeros_like(zb)
    for lag, w in enumerate(kernel):
        if lag >= t:
            break
        out[:, lag:, :] += w * zb[:, : t - lag, :]
    return out[0] if squeeze else out


@dataclass(frozen=True)
class RunResult:
    """Detector output for one run: score per row, the run's threshold and 0/1 flags."""

    score: np.ndarray
    threshold: float
    flags: np.ndarray
    calibration: Calibration


class MewmaT2Detector:
    """Multivariate EWMA Hotelling-T2 detector (scikit-learn contract).

    Parameters are in samples (SKAB: 1 sample = 1 s; TEP: 3 min). ``horizon`` is how far
    ahead the drift-aware scale extrapolates: the span a run is monitored for after its
    calibration rows (SKAB runs are ~1,150 s, so ~750 s after the first 400); ``ridge`` is added to the covariance diagonal
    (in standardised units) so a constant sensor cannot make it singular.
    """

    def __init__(
        self,
        span: float = 20.0,
        taps: int = 60,
        horizon: float = 750.0,
        calibration_rows: int = 400,
        quantile: float = 0.99,
        factor: float = 3.0,
        ridge: float = 1e-3,
    ) -> None:
        self.span = span
        self.taps = taps
        self.horizon = horizon
        self.calibration_rows = calibration_rows
        self.quantile = quantile
        self.factor = factor
        self.ridge = ridge

    def get_params(self) -> dict[str, float | int]:
        return {
            "span": self.span,
            "taps": self.taps,
            "horizon": self.horizon,
            "calibration_rows": self.calibration_rows,
            "quantile": self.quantile,
            "factor": self.factor,
            "ridge": self.ridge,
        }

    def fit(self, segments: list[np.ndarray]) -> MewmaT2Detector:
        """Learn the pooled precision from normal segments, each [rows, features]."""
        if not segments:
            raise DataError("fit needs at least one normal segment [rows, features]")
        self.kernel_ = ewma_kernel(self.span, self.taps)
        pooled = []
        for seg in segments:
            z = calibrate(seg, self.horizon).apply(seg)
            zs = causal_smooth(z, self.kernel_)
            pooled.append(zs[min(self.taps, zs.shape[0] // 2) :])  # skip the filter warm-up
        data = np.concatenate(pooled)
        self.n_features_in_ = int(data.shape[1])
        cov = np.cov(data, rowvar=False) + self.ridge * np.eye(self.n_features_in_)
        self.precision_ = np.linalg.inv(cov)
        self.n_train_rows_ = int(data.shape[0])
        self.n_segments_ = len(segments)
        return self

    def _check(self, z: np.ndarray) -> None:
        if not hasattr(self, "precision_"):
            raise DataError("detector is not fitted; call fit(segments) first")
        if z.shape[-1] != self.n_features_in_:
            raise DataError(
                f"input has {z.shape[-1]} features, expected {self.n_features_in_} as in training"
            )

    def score_standardized(self, z: np.ndarray) -> np.ndarray:
        """T2 score per row of standardised rows [T, D] or [B, T, D] (numpy reference)."""
        z = np.asarray(z, dtype=np.float64)
        self._check(z)
        zs = causal_smooth(z, self.kernel_)
        return np.einsum("...i,ij,...j->...", zs, self.precision_, zs)

    def predict_run(self, x: np.ndarray) -> RunResult:
        """The SKAB protocol for one run [T, D]: calibrate on its first rows, score, flag."""
        x = np.asarray(x, dtype=np.float64)
        n = self.calibration_rows
        if x.shape[0] <= n:
            raise DataError(f"run has {x.shape[0]} rows, expected more than calibration_rows={n}")
        cal = calibrate(x[:n], self.horizon)
        score = self.score_standardized(cal.apply(x))
        thr = threshold_first_rows(score, n, self.taps, self.quantile, self.factor)
        return RunResult(
            score=score, threshold=thr, flags=(score > thr).astype(np.int8), calibration=cal
        )
