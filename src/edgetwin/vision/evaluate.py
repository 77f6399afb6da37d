"""Evaluate an inspection module (the exported ONNX, fp32 or INT8) on a labelled test set.

Reports what the field reports (image AUROC, pixel AUROC, AUPRO to 30% FPR) beside what a
quality engineer needs (false-reject rate and escape rate at the module's threshold, per defect
type too). Maps and masks are compared at the module's input size (masks resized by nearest
neighbour, thresholded at 128), the usual practice of anomalib.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgetwin.vision import metrics
from edgetwin.vision.datasets import Sample
from edgetwin.vision.image import read_image, read_mask, resize, to_batch
from edgetwin.vision.overlay import write_overlay

log = logging.getLogger(__name__)

RunFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_images(samples: Sequence[Sample], size: tuple[int, int]) -> list[np.ndarray]:
    """Read and resize the images of `samples` (float RGB in [0, 1])."""
    return [resize(read_image(s.path), size) for s in samples]


def run_batched(
    run: RunFn, images: Sequence[np.ndarray], batch_size: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Apply `run` to equal-size images in batches; return stacked maps and scores."""
    maps, scores = [], []
    for i in range(0, len(images), batch_size):
        m, s = run(to_batch(list(images[i : i + batch_size])))
        maps.append(np.asarray(m, dtype=np.float32))
        scores.append(np.asarray(s, dtype=np.float64).reshape(-1))
    return np.concatenate(maps), np.concatenate(scores)


def evaluate_maps(
    samples: Sequence[Sample],
    maps: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    size: tuple[int, int],
    *,
    pixel: bool = True,
) -> dict[str, Any]:
    """Metrics of precomputed maps/scores against the samples' labels and masks."""
    labels = np.array([s.label for s in samples])
    out: dict[str, Any] = {"n_images": len(samples), "threshold": float(threshold)}
    out["image_auroc"] = metrics.image_auroc(labels, scores)
    out.update(metrics.decision_rates(labels, scores, threshold))
    if pixel:
        masks = np.stack([read_mask(s.mask, size) for s in samples])
        out["pixel_auroc"] = metrics.pixel_auroc(masks, maps)
        out["aupro_0.3"] = metrics.aupro(masks, maps)
    per: dict[str, Any] = {}
    defects = sorted({s.defect for s in samples if s.label == 1})
    for d in defects:
        sel = np.array(
            [s.defect in ("good", d) and (s.label == 0 or s.defect == d) for s in samples]
        )
        rates = metrics.decision_rates(labels[sel], scores[sel], threshold)
        per[d] = {
            "image_auroc": metrics.image_auroc(labels[sel], scores[sel]),
            "escape_rate": rates["escape_rate"],
            "n": rates["n_defective"],
        }
    out["per_defect"] = per
    return out


def write_overlays(
    folder: str | Path,
    samples: Sequence[Sample],
    images: Sequence[np.ndarray],
    maps: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    limit: int | None = None,
) -> list[Path]:
    """Heatmap overlays as PNG, named `<defect>_<stem>_<score>.png`; the worst-scoring first."""
    order = np.argsort(-scores)
    if limit is not None:
        order = order[:limit]
    paths = []
    for i in order:
        s = samples[i]
        name = f"{s.defect}_{s.path.stem}_{scores[i]:.2f}.png"
        paths.append(write_overlay(Path(folder) / name, images[i], maps[i], threshold))
    return paths
