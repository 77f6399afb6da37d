"""A simulated inspection station: tile-like part images, a few with cracks or blowholes.

It knows its own ground truth (label, defect type, pixel mask), so the demo plant can show an
inspection gallery and the tests can check that a detector trained on its good parts finds its
defects. Parts are grayscale ferrite-like surfaces: fine grain noise, slow lighting gradient,
faint machining marks, random small pose jitter. Defects:

- crack: a thin dark polyline from a random walk (1-2 px wide, 20-60% of the part long)
- blowhole: a dark round pit with a soft rim (4-10 px radius)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edgetwin.core.errors import DataError

DEFECT_TYPES = ("crack", "blowhole")


@dataclass(frozen=True)
class Part:
    """One simulated part: float RGB image in [0, 1], label (1 = defective), defect, bool mask."""

    index: int
    image: np.ndarray
    label: int
    defect: str
    mask: np.ndarray


class InspectionStation:
    """Generates parts; `defect_rate` is the fraction of defective parts (a few, as on a line).

    Deterministic: part i of a station with seed s is always the same image.
    """

    def __init__(
        self, size: tuple[int, int] = (224, 224), defect_rate: float = 0.05, seed: int = 0
    ) -> None:
        if not 0.0 <= defect_rate <= 1.0:
            raise DataError(f"defect_rate={defect_rate} must be a fraction in [0, 1]")
        self.size = size
        self.defect_rate = defect_rate
        self.seed = seed

    def _surface(self, rng: np.random.Generator) -> np.ndarray:
        h, w = self.size
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        base = rng.uniform(0.42, 0.52)
        angle = rng.uniform(0, 2 * np.pi)
        grad = 0.06 * ((np.cos(angle) * xx / w) + (np.sin(angle) * yy / h))
        marks = 0.012 * np.sin(
            2 * np.pi * (xx * np.cos(0.2) + yy * np.sin(0.2)) / rng.uniform(5, 7)
        )
        grain = cv2.GaussianBlur(rng.normal(0, 0.05, (h, w)).astype(np.float32), (0, 0), 0.8)
        return (base + grad + marks + grain).astype(np.float32)

    def _crack(self, img: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> None:
        h, w = self.size
        n = int(rng.integers(12, 30))
        step = min(h, w) * rng.uniform(0.2, 0.6) / n
        pts = [np.array([rng.uniform(0.2 * w, 0.8 * w), rng.uniform(0.2 * h, 0.8 * h)])]
        heading = rng.uniform(0, 2 * np.pi)
        for _ in range(n):
            heading += rng.normal(0, 0.35)
            nxt = pts[-1] + step * np.array([np.cos(heading), np.sin(heading)])
            pts.append(np.clip(nxt, 2, [w - 3, h - 3]))
        poly = np.round(np.array(pts)).astype(np.int32)
        width = int(rng.integers(1, 3))
        layer = np.zeros((h, w), np.uint8)
        cv2.polylines(layer, [poly], False, 255, width, lineType=cv2.LINE_AA)
        alpha = layer.astype(np.float32) / 255.0
        img[:] = img * (1 - 0.75 * alpha)
        mask |= layer >= 128

    def _blowhole(self, img: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> None:
        h, w = self.size
        r = float(rng.uniform(4, 10))
        cy, cx = rng.uniform(r + 4, h - r - 4), rng.uniform(r + 4, w - r - 4)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        d = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) / r
        pit = np.clip(1.2 - d, 0, 1) ** 0.7
        rim = np.exp(-((d - 1.1) ** 2) / 0.02) * 0.15
        img[:] = img * (1 - 0.8 * pit) + rim
        mask |= d <= 1.0

    def part(self, index: int) -> Part:
        """The `index`-th part of this station."""
        rng = np.random.default_rng([self.seed, index])
        img = self._surface(rng)
        mask = np.zeros(self.size, dtype=bool)
        defect = "good"
        if rng.random() < self.defect_rate:
            defect = DEFECT_TYPES[int(rng.integers(len(DEFECT_TYPES)))]
            (self._crack if defect == "crack" else self._blowhole)(img, mask, rng)
        rgb = np.repeat(np.clip(img, 0, 1)[:, :, None], 3, axis=2)
        return Part(index, rgb, int(defect != "good"), defect, mask)

    def parts(self, n: int, start: int = 0) -> list[Part]:
        return [self.part(i) for i in range(start, start + n)]

    def __iter__(self) -> Iterator[Part]:
        i = 0
        while True:
            yield self.part(i)
            i += 1

    def defective(self, defect: str, index: int) -> Part:
        """A part guaranteed to carry `defect` (for tests and demos)."""
        if defect not in DEFECT_TYPES:
            raise DataError(f"defect {defect!r}: use one of {DEFECT_TYPES}")
        rng = np.random.default_rng([self.seed, index, 7])
        img = self._surface(rng)
        mask = np.zeros(self.size, dtype=bool)
        (self._crack if defect == "crack" else self._blowhole)(img, mask, rng)
        return Part(index, np.repeat(np.clip(img, 0, 1)[:, :, None], 3, axis=2), 1, defect, mask)


def write_mvtec_layout(
    station: InspectionStation,
    root: str | Path,
    n_train: int = 60,
    n_test_good: int = 8,
    n_test_defect: int = 4,
) -> Path:
    """Write station parts as an MVTec AD category folder (PNG, gray) and return its path.

    The demo plant uses it to train its inspection module with `edgetwin vision train --data`
    (or `train_inspection(load_mvtec(path), ...)`) before the line starts.
    """
    from PIL import Image

    cat = Path(root)
    for sub in (
        ["train/good", "test/good"]
        + [f"test/{d}" for d in DEFECT_TYPES]
        + [f"ground_truth/{d}" for d in DEFECT_TYPES]
    ):
        (cat / sub).mkdir(parents=True, exist_ok=True)

    def u8(a: np.ndarray) -> np.ndarray:
        return (np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)

    good = InspectionStation(station.size, defect_rate=0.0, seed=station.seed)
    for i, p in enumerate(good.parts(n_train)):
        Image.fromarray(u8(p.image[..., 0])).save(cat / "train" / "good" / f"{i:04d}.png")
    for i, p in enumerate(good.parts(n_test_good, start=n_train)):
        Image.fromarray(u8(p.image[..., 0])).save(cat / "test" / "good" / f"{i:04d}.png")
    for d in DEFECT_TYPES:
        for i in range(n_test_defect):
            p = station.defective(d, 10_000 + i)
            Image.fromarray(u8(p.image[..., 0])).save(cat / "test" / d / f"{i:04d}.png")
            Image.fromarray(p.mask.astype(np.uint8) * 255).save(
                cat / "ground_truth" / d / f"{i:04d}_mask.png"
            )
    return cat
