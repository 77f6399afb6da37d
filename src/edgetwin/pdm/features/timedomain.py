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
    m2 = np.mean(x**2, axis=-1) + _EPS
    rms = np.sqrt(m2)
    mean_abs = np.mean(np.abs(x), axis=-1) + _EPS
    peak = np.max(np.abs(x), axis=-1) + _EPS
    kurt = np.mean(x**4, axis=-1) / m2**2
    skew = np.mean(x**3, axis=-1) / m2**1.5
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
