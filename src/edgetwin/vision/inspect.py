"""Run an inspection module on part images: score, decision, heatmap overlay, events row.

This is the line-side path: it runs the exported edge module (never the training object), so
what was benchmarked is what decides. Each inspection becomes one row of the events table
(`kind="inspection"`) linked to the twin's asset by `source`, with the overlay PNG path in the
payload so the dashboard can show the gallery. No torch needed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from edgetwin.core import make_events
from edgetwin.core.errors import ModuleError
from edgetwin.vision.image import read_image, resize
from edgetwin.vision.overlay import write_overlay
from edgetwin.vision.tiling import tiled_map

log = logging.getLogger(__name__)

SEVERITY_PASS = 100
SEVERITY_REJECT = 700


@dataclass
class Inspection:
    """One inspected part. `decision` is "pass" or "reject"; the map is at the model's input size."""

    ts_ns: int
    name: str
    score: float
    threshold: float
    decision: str
    anomaly_map: np.ndarray
    overlay_path: Path | None
    observed: float | None = None
    """Fraction of the map the decision rests on (the rest was clipped: glare, over-exposure);
    a low value is an exposure alarm, not a verdict on the part. None for tiled inspection."""

    def payload(self, module: str) -> dict[str, Any]:
        extra = {} if self.observed is None else {"observed": self.observed}
        return extra | {
            "score": self.score,
            "threshold": self.threshold,
            "decision": self.decision,
            "overlay_path": str(self.overlay_path) if self.overlay_path else None,
            "module": module,
            "image": self.name,
        }


def module_threshold(postprocess: dict[str, Any], precision: str) -> float:
    """The module's decision threshold for `precision` (each precision is calibrated on its own)."""
    per = postprocess.get("thresholds") or {}
    if precision in per:
        return float(per[precision])
    value = (postprocess.get("params") or {}).get("value")
    if value is None:
        raise ModuleError(
            "module has no decision threshold in postprocess; retrain with edgetwin vision train"
        )
    return float(value)


class Inspector:
    """Loads an inspection module once and inspects images one by one.

    `source` is the twin's asset path of the inspection station (e.g. `site/line1/inspect1`);
    overlays go to `overlay_dir` (None: no overlays). `tile=True` inspects large parts at native
    resolution in model-sized tiles instead of shrinking them. `min_observed`: a part whose
    module reports that less than this fraction of the map was observed (the rest clipped:
    over-exposure, a blank or saturated frame) is rejected, since nothing vouches for it; the
    score alone would call it good, because clipped regions carry no evidence either way.
    """

    def __init__(
        self,
        module_path: str | Path,
        *,
        source: str = "site/line1/inspection",
        overlay_dir: str | Path | None = None,
        precision: str = "fp32",
        threshold: float | None = None,
        tile: bool = False,
        intra_op_threads: int | None = None,
        min_observed: float = 0.5,
    ) -> None:
        from edgetwin.edge import EdgeModule

        self.min_observed = float(min_observed)
        self.module = EdgeModule.load(
            module_path, precision=precision, intra_op_threads=intra_op_threads
        )
        if self.module.manifest.task != "vision-anomaly":
            raise ModuleError(
                f"module {module_path} has task {self.module.manifest.task!r}; inspection needs a "
                "'vision-anomaly' module (edgetwin vision train)"
            )
        post = self.module.manifest.postprocess or {}
        self.threshold = (
            float(threshold) if threshold is not None else module_threshold(post, precision)
        )
        # The overlay's colour scale: the map's own good-part threshold when the score is not
        # the map max (image Gaussian), else the decision threshold.
        self.map_threshold = float(
            (post.get("map_thresholds") or {}).get(precision, self.threshold)
            if threshold is None
            else threshold
        )
        pre = self.module.manifest.preprocess or {}
        self.size: tuple[int, int] = tuple(
            int(v) for v in pre.get("params", {}).get("size", (224, 224))
        )  # type: ignore[assignment]
        self.source = source
        self.overlay_dir = Path(overlay_dir) if overlay_dir is not None else None
        self.tile = tile
        self.module_name = f"{self.module.manifest.name}@{self.module.manifest.version}/{precision}"

    def run_batch(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw module outputs (maps, scores) for an N x 3 x H x W batch."""
        out = self.module.run({"image": np.ascontiguousarray(batch, dtype=np.float32)})
        return out["anomaly_map"], out["score"]

    def inspect(
        self, image: np.ndarray | str | Path, *, name: str | None = None, ts_ns: int | None = None
    ) -> Inspection:
        """Inspect one part image (float RGB array or a path)."""
        if isinstance(image, str | Path):
            name = name or Path(image).name
            image = read_image(image)
        name = name or "image"
        ts = time.time_ns() if ts_ns is None else int(ts_ns)
        observed = None
        if self.tile:
            amap, score = tiled_map(self.run_batch, image, self.size)
            shown = image
        else:
            shown = resize(image, self.size)
            batch = np.ascontiguousarray(shown.transpose(2, 0, 1)[None], dtype=np.float32)
            out = self.module.run({"image": batch})
            amap, score = out["anomaly_map"][0], float(out["score"][0])
            if "observed" in out:
                observed = float(out["observed"][0])
        unseen = observed is not None and observed < self.min_observed
        decision = "reject" if score > self.threshold or unseen else "pass"
        path = None
        if self.overlay_dir is not None:
            stem = Path(name).stem
            path = write_overlay(
                self.overlay_dir / f"{ts}_{stem}_{decision}.png", shown, amap, self.map_threshold
            )
        log.debug("inspected %s: score %.3f (%s)", name, score, decision)
        return Inspection(ts, name, float(score), self.threshold, decision, amap, path, observed)

    def events(self, inspections: list[Inspection]) -> pa.Table:
        """The events rows of these inspections (kind "inspection", severity by decision)."""
        return make_events(
            np.array([i.ts_ns for i in inspections], dtype=np.int64),
            self.source,
            "inspection",
            [SEVERITY_REJECT if i.decision == "reject" else SEVERITY_PASS for i in inspections],
            [i.payload(self.module_name) for i in inspections],
        )
