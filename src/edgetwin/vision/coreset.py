"""Greedy k-center coreset subsampling of the patch memory bank (PatchCore, Roth et al. 2022).

A bank of every patch of every good image is large and redundant: thousands of nearly identical
background patches. The greedy k-center coreset keeps the patch farthest from everything chosen
so far, so rare-but-normal patches survive while duplicates go. Distances are computed on a
sparse-ish random Gaussian projection (PatchCore uses 128 dims) to make selection cheaper; the
selected rows are returned in full dimension.
"""

from __future__ import annotations

import logging

import numpy as np

from edgetwin.core.errors import DataError

log = logging.getLogger(__name__)


def greedy_coreset(
    features: np.ndarray,
    n_select: int,
    *,
    projection_dim: int = 128,
    seed: int = 0,
) -> np.ndarray:
    """Indices of `n_select` rows of `features` (N x D) picked by greedy k-center selection.

    Deterministic for a given seed: the start point and the projection come from `seed`.
    """
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise DataError(f"coreset: features must be a non-empty N x D array, got shape {x.shape}")
    n = len(x)
    if n_select >= n:
        return np.arange(n)
    if n_select < 1:
        raise DataError(f"coreset: n_select must be >= 1, got {n_select}")
    rng = np.random.default_rng(seed)
    if projection_dim and projection_dim < x.shape[1]:
        proj = rng.normal(size=(x.shape[1], projection_dim)).astype(np.float32) / np.sqrt(
            projection_dim
        )
        z = x @ proj
    else:
        z = x
    sq = np.einsum("ij,ij->i", z, z)
    selected = np.empty(n_select, dtype=np.int64)
    current = int(rng.integers(n))
    min_d2 = np.full(n, np.inf, dtype=np.float32)
    for i in range(n_select):
        selected[i] = current
        c = z[current]
        d2 = sq - 2.0 * (z @ c) + float(c @ c)
        np.minimum(min_d2, d2, out=min_d2)
        current = int(np.argmax(min_d2))
    log.debug("coreset: kept %d of %d patches (%.2f%%)", n_select, n, 100.0 * n_select / n)
    return selected
