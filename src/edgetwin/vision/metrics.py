"""Inspection metrics: image AUROC, pixel AUROC, AUPRO, and the quality engineer's view.

A quality engineer asks two questions about a chosen threshold: how many good parts do we throw
away (false-reject rate, FRR = good parts flagged / good parts) and how many defective parts get
through (escape rate = defective parts passed / defective parts). Both are reported beside the
threshold-free ranking metrics the literature uses.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from edgetwin.core.errors import DataError


def image_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC of image scores (labels 1 = defective)."""
    y = np.asarray(labels).astype(int)
    if y.min() == y.max():
        raise DataError("image AUROC needs both good (0) and defective (1) images")
    return float(roc_auc_score(y, np.asarray(scores, dtype=np.float64)))


def pixel_auroc(
    masks: np.ndarray, maps: np.ndarray, max_pixels: int = 20_000_000, seed: int = 0
) -> float:
    """ROC AUC over all test pixels (masks bool N x H x W, maps float N x H x W).

    Above `max_pixels` a fixed-seed uniform subsample is used; AUROC is a rank statistic, so the
    estimate's standard error at 20 M pixels is far below the third decimal.
    """
    y = np.asarray(masks, dtype=bool).ravel()
    s = np.asarray(maps, dtype=np.float32).ravel()
    if y.size != s.size:
        raise DataError(f"pixel AUROC: masks have {y.size} pixels but maps have {s.size}")
    if y.size > max_pixels:
        idx = np.random.default_rng(seed).choice(y.size, max_pixels, replace=False)
        y, s = y[idx], s[idx]
    if y.all() or not y.any():
        raise DataError("pixel AUROC needs defect and background pixels")
    return float(roc_auc_score(y, s))


def aupro(
    masks: np.ndarray, maps: np.ndarray, fpr_limit: float = 0.3, n_thresholds: int = 300
) -> float:
    """Area under the per-region-overlap curve up to `fpr_limit` FPR, normalised to [0, 1].

    Bergmann et al. (MVTec AD, 2021): each connected defect region counts equally, whatever
    its size, so one large break cannot hide many missed small cracks. FPR is over all
    defect-free pixels of the test set.
    """
    masks = np.asarray(masks, dtype=bool)
    maps = np.asarray(maps, dtype=np.float32)
    normal = np.sort(maps[~masks])
    if normal.size == 0 or not masks.any():
        raise DataError("AUPRO needs defect and background pixels")
    regions: list[np.ndarray] = []
    for m, a in zip(masks, maps, strict=True):
        if not m.any():
            continue
        lab, n = ndimage.label(m)
        for k in range(1, n + 1):
            regions.append(np.sort(a[lab == k]))
    # Thresholds from the top of the normal-pixel distribution down to the fpr_limit quantile.
    lo = np.quantile(normal, 1.0 - fpr_limit)
    thresholds = np.linspace(normal[-1], lo, n_thresholds)
    fpr = 1.0 - np.searchsorted(normal, thresholds, side="right") / normal.size
    pro = np.zeros_like(thresholds)
    for r in regions:
        pro += 1.0 - np.searchsorted(r, thresholds, side="right") / r.size
    pro /= len(regions)
    fpr = np.concatenate([[0.0], fpr, [fpr_limit]])
    pro = np.concatenate([[0.0], pro, [pro[-1]]])
    keep = fpr <= fpr_limit
    return float(np.trapezoid(pro[keep], fpr[keep]) / fpr_limit)


def decision_rates(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """False-reject rate and escape rate at `threshold` (score > threshold = reject)."""
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    reject = s > threshold
    good, bad = y == 0, y == 1
    return {
        "false_reject_rate": float(reject[good].mean()) if good.any() else float("nan"),
        "escape_rate": float((~reject[bad]).mean()) if bad.any() else float("nan"),
        "n_good": int(good.sum()),
        "n_defective": int(bad.sum()),
    }
