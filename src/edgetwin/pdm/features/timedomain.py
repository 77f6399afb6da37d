"""Scale-free time-domain statistics of vibration windows.

All of them are ratios of moments or of peak to mean, so they do not depend on sensor gain,
units or (to first order) on load; impacts from a local defect raise all of them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

TIME_FEATURES: tuple[str, ...] = ("kurtosis", "crest", "shape", "impulse", "skew_abs")

_EPS = 1e-12


def time_features(windows: NDArray[np.floating]) -> NDArray[np.float64]:
    """Statistics of each row of `windows` ([batch, samples], any unit) -> [batch, 5].

    Columns in `TIME_FEATURES` order: kurtosis (log10 of the 4th standardised moment; 3 for
    Gaussian noise), crest factor (peak/RMS, log10), shape factor (RMS/mean |x|), impulse factor
    (peak/mean |x|, log10) and |skewness|. Logs keep impulsive records from dominating a linear
    classifier.
    """
    x = np.asarray(windows, dtype=np.float64)
    x = x - x.mean(axis=-1, keepdims=True)
    x2 = x * x  # products, not `**`: numpy's generic power is ~10x slower here
    m2 = np.mean(x2, axis=-1) + _EPS
    rms = np.sqrt(m2)
    ax = np.abs(x)
    mean_abs = np.mean(ax, axis=-1) + _EPS
    peak = np.max(ax, axis=-1) + _EPS
    kurt = np.mean(x2 * x2, axis=-1) / (m2 * m2)
    skew = np.mean(x2 * x, axis=-1) / (m2 * rms)
    return np.stack(
        [
            np.log10(kurt + _EPS),
            np.log10(peak / rms),
            rms / mean_abs,
            np.log10(peak / mean_abs),
            np.abs(skew),
        ],
        axis=-1,
    )
