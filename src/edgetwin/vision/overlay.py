"""Heatmap overlays an operator can read: the part, the anomaly map in colour, the reject outline.

The map is scaled so the decision threshold sits at mid-scale (0 -> blue, threshold -> green,
2 x threshold and above -> red), the convention anomalib uses, so overlays of different parts and
modules compare at a glance. The region above the threshold is outlined in white.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edgetwin.vision.image import resize


def overlay(
    image: np.ndarray, anomaly_map: np.ndarray, threshold: float, alpha: float = 0.45
) -> np.ndarray:
    """uint8 BGR overlay of `anomaly_map` (any size) on `image` (float RGB in [0, 1])."""
    h, w = image.shape[:2]
    amap = (
        anomaly_map
        if anomaly_map.shape == (h, w)
        else cv2.resize(anomaly_map.astype(np.float32), (w, h))
    )
    norm = np.clip(amap / (2.0 * max(threshold, 1e-12)), 0.0, 1.0)
    heat = cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_JET)
    base = (np.clip(image, 0, 1) * 255).astype(np.uint8)[:, :, ::-1]
    out = cv2.addWeighted(base, 1.0 - alpha, heat, alpha, 0.0)
    above = (amap > threshold).astype(np.uint8)
    if above.any():
        contours, _ = cv2.findContours(above, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (255, 255, 255), 1)
    return out


def write_overlay(
    path: str | Path,
    image: np.ndarray,
    anomaly_map: np.ndarray,
    threshold: float,
    max_side: int = 512,
) -> Path:
    """Write the overlay as PNG (shrunk to `max_side` px on the long side); return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    h, w = image.shape[:2]
    if max(h, w) > max_side:
        f = max_side / max(h, w)
        size = (max(1, round(h * f)), max(1, round(w * f)))
        image = resize(image, size)
        anomaly_map = cv2.resize(anomaly_map.astype(np.float32), (size[1], size[0]))
    cv2.imwrite(str(p), overlay(image, anomaly_map, threshold))
    return p
