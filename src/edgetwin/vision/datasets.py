"""Loaders for inspection data sets: the MVTec AD folder layout and the Magnetic Tile layout.

Both return an `InspectionData`: lists of `Sample` (image path, label, defect type, mask path),
with good images split into `train` (memory bank), `calibration` (threshold from good parts only)
and `test`. Loaders take any path; nothing is downloaded.

Splits are deterministic by a salted SHA-1 of the file stem, so a split never depends on file
order or on the machine, and adding images does not reshuffle the existing ones.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

from edgetwin.core.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
SPLIT_SALT = "edgetwin-vision"


@dataclass(frozen=True)
class Sample:
    """One image: `label` 0 = good, 1 = defective; `mask` None for good parts."""

    path: Path
    label: int
    defect: str
    mask: Path | None = None


@dataclass
class InspectionData:
    """Good training images, good calibration images and a labelled test set."""

    name: str
    train: list[Sample]
    calibration: list[Sample]
    test: list[Sample]
    protocol: dict[str, object] = field(default_factory=dict)

    @property
    def defect_types(self) -> list[str]:
        return sorted({s.defect for s in self.test if s.label == 1})


def split_fraction(stem: str, salt: str = SPLIT_SALT) -> float:
    """A stable pseudo-random number in [0, 1) from the file stem."""
    digest = hashlib.sha1(f"{salt}:{stem}".encode()).hexdigest()
    return (int(digest, 16) % 10_000) / 10_000.0


def _images(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.stem.endswith("_mask")
    )


def load_mvtec(root: str | Path, calibration_fraction: float = 0.2) -> InspectionData:
    """One MVTec AD category: `train/good`, `test/<defect>`, `ground_truth/<defect>/<stem>_mask.png`.

    `calibration_fraction` of `train/good` (by hash) is held out of the memory bank to set the
    threshold from good parts only; `test/good` stays in the test set.
    """
    root = Path(root)
    good_dir = root / "train" / "good"
    if not good_dir.is_dir() or not (root / "test").is_dir():
        raise DataError(
            f"{root} is not an MVTec AD category folder: expected train/good/ and test/<defect>/ "
            "(and ground_truth/<defect>/<stem>_mask.png for defects)"
        )
    # Rank by hash and take the first ceil(fraction * n): the calibration count is exact even
    # for a handful of images, and membership still does not depend on file order.
    goods = sorted(_images(good_dir), key=lambda p: split_fraction(p.stem))
    n_cal = min(len(goods) - 1, math.ceil(calibration_fraction * len(goods))) if goods else 0
    calib = [Sample(p, 0, "good") for p in sorted(goods[:n_cal])]
    train = [Sample(p, 0, "good") for p in sorted(goods[n_cal:])]
    test: list[Sample] = []
    for defect_dir in sorted(d for d in (root / "test").iterdir() if d.is_dir()):
        defect = defect_dir.name
        for p in _images(defect_dir):
            if defect == "good":
                test.append(Sample(p, 0, "good"))
                continue
            mask = root / "ground_truth" / defect / f"{p.stem}_mask.png"
            if not mask.is_file():
                raise DataError(f"mask {mask} for defect image {p} is missing (MVTec layout)")
            test.append(Sample(p, 1, defect, mask))
    if not train:
        raise DataError(f"{good_dir} holds no training images")
    protocol = {
        "layout": "mvtec",
        "calibration_fraction": calibration_fraction,
        "split": "sha1(salt:stem)",
    }
    return InspectionData(root.name, train, calib, test, protocol)


def load_magnetic_tile(
    root: str | Path,
    train_fraction: float = 0.55,
    calibration_fraction: float = 0.15,
    defect_types: list[str] | None = None,
) -> InspectionData:
    """Magnetic Tile layout: `MT_<class>/Imgs/<stem>.jpg` with a same-stem `.png` mask (0/255).

    Protocol (stated in docs/vision.md): MT_Free is split by salted hash into train (memory
    bank, 55%), calibration (threshold, 15%) and test-good (30%); every image of every other
    MT_<class> folder present (or only `defect_types`) is a test defect.
    """
    root = Path(root)
    free = root / "MT_Free" / "Imgs"
    if not free.is_dir():
        raise DataError(
            f"{root} is not a Magnetic Tile folder: expected MT_Free/Imgs/ beside MT_<defect>/Imgs/"
        )
    if not (
        0 < train_fraction
        and 0 <= calibration_fraction
        and train_fraction + calibration_fraction < 1
    ):
        raise DataError("train_fraction + calibration_fraction must be in (0, 1)")
    train: list[Sample] = []
    calib: list[Sample] = []
    test: list[Sample] = []
    for p in sorted(free.glob("*.jpg")):
        u = split_fraction(p.stem)
        if u < train_fraction:
            train.append(Sample(p, 0, "good"))
        elif u < train_fraction + calibration_fraction:
            calib.append(Sample(p, 0, "good"))
        else:
            test.append(Sample(p, 0, "good"))
    for cls_dir in sorted(d for d in root.glob("MT_*") if d.is_dir() and d.name != "MT_Free"):
        defect = cls_dir.name.removeprefix("MT_").lower()
        if defect_types is not None and defect not in defect_types:
            continue
        for p in sorted((cls_dir / "Imgs").glob("*.jpg")):
            mask = p.with_suffix(".png")
            test.append(Sample(p, 1, defect, mask if mask.is_file() else None))
    protocol = {
        "layout": "magnetic_tile",
        "train_fraction": train_fraction,
        "calibration_fraction": calibration_fraction,
        "split": "sha1(salt:stem) of MT_Free",
        "mask_threshold": 128,
    }
    return InspectionData(root.name, train, calib, test, protocol)


def load_inspection_data(root: str | Path) -> InspectionData:
    """Pick the loader from the folder layout (MVTec category or Magnetic Tile)."""
    root = Path(root)
    if (root / "train" / "good").is_dir():
        return load_mvtec(root)
    if (root / "MT_Free").is_dir():
        return load_magnetic_tile(root)
    raise DataError(
        f"{root}: unknown layout; expected an MVTec AD category (train/good, test/<defect>, "
        "ground_truth/) or a Magnetic Tile folder (MT_Free/Imgs, MT_<defect>/Imgs)"
    )
