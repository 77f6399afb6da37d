"""Small numpy pre- and post-processing functions a manifest can name.

A manifest names them as `edgetwin.edge.processing:standardize` with `params`; keeping them
here (pure numpy, no torch) means the runtime computes exactly what was benchmarked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def standardize(
    x: np.ndarray, mean: float | Sequence[float], std: float | Sequence[float], axis: int = 1
) -> np.ndarray:
    """(x - mean) / std, per feature along `axis` (scalars broadcast to every feature).

    A zero std leaves the feature centred but unscaled. `EdgeModule` converts list parameters
    to arrays once at load time, so the per-window cost is the arithmetic alone.
    """
    arr = np.asarray(x, dtype=np.float32)
    m = np.asarray(mean, dtype=np.float32)
    s = np.asarray(std, dtype=np.float32)
    if s.ndim == 0:
        return (arr - m) / (s if s != 0 else np.float32(1.0))
    s = np.where(s == 0, np.float32(1.0), s)
    if m.ndim == 1 and arr.ndim > 1:
        shape = [1] * arr.ndim
        shape[axis] = m.size
        m = m.reshape(shape)
        s = s.reshape(shape)
    return (arr - m) / s


def softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Class probabilities from logits."""
    z = np.asarray(scores, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def argmax_labels(scores: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Class names of the highest score per row."""
    return np.asarray(labels, dtype=object)[np.asarray(scores).argmax(axis=-1)]


def threshold(scores: np.ndarray, value: float) -> np.ndarray:
    """Boolean anomaly flags: score above `value` (the threshold chosen on normal data)."""
    return np.asarray(scores).reshape(len(scores), -1)[:, 0] > value


def scale(scores: np.ndarray, factor: float = 1.0, offset: float = 0.0) -> np.ndarray:
    """Linear rescaling of a regression output (e.g. normalised RUL back to cycles)."""
    return np.asarray(scores, dtype=np.float64) * factor + offset
