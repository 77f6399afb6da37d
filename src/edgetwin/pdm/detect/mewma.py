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
- *slow* features (normal behaviour closer to a random walk than to noise: SKAB's motor and
  fluid temperatures) enter as their change over ``slow_lag`` samples instead of their level,
  scaled by the change pooled over all normal segments (`calibration.slow_features`,
  `calibration.increment_scale`): normal thermal drift no longer alarms, a sudden heating or
  cooling still does. Differencing and smoothing are one linear filter per feature, so the
  ONNX graph stays one depthwise convolution;
- the score is Hotelling's T2 of the filtered vector, ``s = z_s^T P z_s`` (dimensionless);
  the threshold is ``factor`` times the ``quantile`` of the scores of all normal segments
  (one number for every run: a per-run threshold from 400 autocorrelated rows is noisy), and
  alarms use hysteresis: on above the threshold, off below ``hysteresis`` times it, so one
  anomaly is not chopped into pieces while its score wobbles around the limit.
Nothing is fitted on labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgetwin.core.errors import DataError
from edgetwin.pdm.detect.calibration import (
    Calibration,
    calibrate,
    increment_scale,
    slow_features,
)
from edgetwin.pdm.detect.processing import hysteresis_flags


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


def channel_kernels(
    n_features: int, smoothing: np.ndarray, slow: list[int], lag: int
) -> np.ndarray:
    """Causal filter per feature, [features, taps (+ lag)]: weight of lag j in column j.

    Level features get the EWMA ``smoothing``; slow features the EWMA of ``x[t] - x[t-lag]``
    (the smoothing kernel minus itself delayed by ``lag``).
    """
    taps = smoothing.size
    width = taps + (lag if slow else 0)
    k = np.zeros((n_features, width))
    k[:, :taps] = smoothing
    for f in slow:
        k[f, lag : lag + taps] -= smoothing
    return k


def causal_filter(z: np.ndarray, kernels: np.ndarray) -> np.ndarray:
    """Filter [T, D] or [B, T, D] along time, feature d with ``kernels[d]``.

    Rows before the start repeat the first row (edge padding, as the ONNX graph does), so
    a differenced feature starts at zero change.
    """
    z = np.asarray(z, dtype=np.float64)
    squeeze = z.ndim == 2
    zb = z[None] if squeeze else z
    width, t = kernels.shape[1], zb.shape[1]
    padded = np.concatenate([np.repeat(zb[:, :1], width - 1, axis=1), zb], axis=1)
    out = np.zeros_like(zb)
    for lag in range(width):
        out += kernels[:, lag] * padded[:, width - 1 - lag : width - 1 - lag + t]
    return out[0] if squeeze else out


@dataclass(frozen=True)
class RunResult:
    """Detector output for one run: score per row, the threshold and 0/1 flags."""

    score: np.ndarray
    threshold: float
    flags: np.ndarray
    calibration: Calibration


class MewmaT2Detector:
    """Multivariate EWMA Hotelling-T2 detector (scikit-learn contract).

    Parameters are in samples (SKAB: 1 sample = 1 s; TEP: 3 min). ``horizon`` is how far
    ahead the drift-aware scale of level features extrapolates: the span a run is monitored
    for after its calibration rows (SKAB runs are ~1,150 s, so ~750 s after the first 400);
    ``slow_lag`` is the change horizon of slow features (default: half the calibration rows,
    so every calibration window holds ``slow_lag`` changes; 0 disables slow features);
    ``slow`` lists slow feature indices, or None to pick them from the data
    (`calibration.slow_features`); ``ridge`` is added to the covariance diagonal (in
    standardised units) so a constant sensor cannot make it singular; ``hysteresis`` is the
    alarm-off level as a fraction of the threshold (1.0: plain threshold).
    """

    def __init__(
        self,
        span: float = 20.0,
        taps: int = 60,
        horizon: float = 750.0,
        calibration_rows: int = 400,
        quantile: float = 0.99,
        factor: float = 2.5,
        ridge: float = 1e-3,
        slow_lag: int | None = None,
        slow: list[int] | None = None,
        hysteresis: float = 0.5,
    ) -> None:
        self.span = span
        self.taps = taps
        self.horizon = horizon
        self.calibration_rows = calibration_rows
        self.quantile = quantile
        self.factor = factor
        self.ridge = ridge
        self.slow_lag = slow_lag
        self.slow = slow
        self.hysteresis = hysteresis

    def get_params(self) -> dict[str, Any]:
        return {
            "span": self.span,
            "taps": self.taps,
            "horizon": self.horizon,
            "calibration_rows": self.calibration_rows,
            "quantile": self.quantile,
            "factor": self.factor,
            "ridge": self.ridge,
            "slow_lag": self.slow_lag,
            "slow": self.slow,
            "hysteresis": self.hysteresis,
        }

    def fit(self, segments: list[np.ndarray]) -> MewmaT2Detector:
        """Learn slow features, their scale, the pooled precision and the threshold.

        ``segments`` are normal data, each [rows, features], each standardised on itself.
        """
        if not segments:
            raise DataError("fit needs at least one normal segment [rows, features]")
        if not 0.0 < self.hysteresis <= 1.0:
            raise DataError(f"hysteresis={self.hysteresis}: expected 0 < hysteresis <= 1")
        segs = [np.asarray(s, dtype=np.float64) for s in segments]
        d = segs[0].shape[1]
        self.slow_lag_ = int(self.calibration_rows // 2 if self.slow_lag is None else self.slow_lag)
        if self.slow is not None:
            bad = [f for f in self.slow if not 0 <= f < d]
            if bad:
                raise DataError(f"slow features {bad} out of range for {d} features")
            self.slow_ = sorted(int(f) for f in self.slow) if self.slow_lag_ > 0 else []
        else:
            usable = [s for s in segs if s.shape[0] > self.slow_lag_]
            self.slow_ = slow_features(usable, self.slow_lag_) if usable else []
        self.fixed_scale_ = increment_scale(segs, self.slow_, self.slow_lag_)
        self.kernel_ = ewma_kernel(self.span, self.taps)
        self.kernels_ = channel_kernels(d, self.kernel_, self.slow_, self.slow_lag_)
        filtered = [self._filtered(s, self.calibrate(s)) for s in segs]
        data = np.concatenate([f[self._warmup(len(f)) :] for f in filtered])
        self.n_features_in_ = int(d)
        cov = np.cov(data, rowvar=False) + self.ridge * np.eye(d)
        self.precision_ = np.linalg.inv(cov)
        scores = np.concatenate([self._t2(f)[self._warmup(len(f)) :] for f in filtered])
        self.threshold_ = float(self.factor * np.quantile(scores, self.quantile))
        self.n_train_rows_ = int(data.shape[0])
        self.n_segments_ = len(segs)
        return self

    @property
    def width_(self) -> int:
        """Rows of history one score needs (the filter length)."""
        return int(self.kernels_.shape[1])

    def _warmup(self, rows: int) -> int:
        return min(self.width_, rows // 2)

    def _filtered(self, x: np.ndarray, cal: Calibration) -> np.ndarray:
        return causal_filter(cal.apply(x), self.kernels_)

    def _t2(self, zs: np.ndarray) -> np.ndarray:
        return np.einsum("...i,ij,...j->...", zs, self.precision_, zs)

    def _check(self, z: np.ndarray) -> None:
        if not hasattr(self, "precision_"):
            raise DataError("detector is not fitted; call fit(segments) first")
        if z.shape[-1] != self.n_features_in_:
            raise DataError(
                f"input has {z.shape[-1]} features, expected {self.n_features_in_} as in training"
            )

    def calibrate(self, x_normal: np.ndarray) -> Calibration:
        """Per-run calibration from normal rows, with the learnt scale of slow features."""
        return calibrate(x_normal, self.horizon, self.fixed_scale_)

    def score_standardized(self, z: np.ndarray) -> np.ndarray:
        """T2 score per row of standardised rows [T, D] or [B, T, D] (numpy reference)."""
        z = np.asarray(z, dtype=np.float64)
        self._check(z)
        return self._t2(causal_filter(z, self.kernels_))

    def flags_from_scores(self, score: np.ndarray) -> np.ndarray:
        """0/1 flags from scores: the learnt threshold with hysteresis."""
        return hysteresis_flags(score, self.threshold_, self.hysteresis * self.threshold_)

    def predict_run(self, x: np.ndarray) -> RunResult:
        """The SKAB protocol for one run [T, D]: calibrate on its first rows, score, flag."""
        x = np.asarray(x, dtype=np.float64)
        n = self.calibration_rows
        if x.shape[0] <= n:
            raise DataError(f"run has {x.shape[0]} rows, expected more than calibration_rows={n}")
        if not hasattr(self, "precision_"):
            raise DataError("detector is not fitted; call fit(segments) first")
        cal = self.calibrate(x[:n])
        score = self.score_standardized(cal.apply(x))
        return RunResult(
            score=score,
            threshold=self.threshold_,
            flags=self.flags_from_scores(score),
            calibration=cal,
        )
