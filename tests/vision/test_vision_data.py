"""Loaders, masks, metrics, thresholds and coreset on small synthetic and real inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgetwin.core.errors import DataError
from edgetwin.vision import metrics
from edgetwin.vision.coreset import greedy_coreset
from edgetwin.vision.datasets import load_inspection_data, load_magnetic_tile, load_mvtec
from edgetwin.vision.image import read_image, read_mask, to_batch
from edgetwin.vision.threshold import refine_threshold, threshold_from_good


def make_mvtec(root: Path, n_train: int = 10, size: int = 64) -> Path:
    """A tiny MVTec AD category: gray noise parts, a 'scratch' defect with masks."""
    rng = np.random.default_rng(0)
    cat = root / "widget"
    for sub in ("train/good", "test/good", "test/scratch", "ground_truth/scratch"):
        (cat / sub).mkdir(parents=True)
    for i in range(n_train):
        Image.fromarray(rng.integers(90, 110, (size, size), dtype=np.uint8)).save(
            cat / f"train/good/{i:03d}.png"
        )
    for i in range(3):
        Image.fromarray(rng.integers(90, 110, (size, size), dtype=np.uint8)).save(
            cat / f"test/good/{i:03d}.png"
        )
        img = rng.integers(90, 110, (size, size, 3), dtype=np.uint8)
        img[20:30, 10:50] = 10
        mask = np.zeros((size, size), np.uint8)
        mask[20:30, 10:50] = 255
        Image.fromarray(img).save(cat / f"test/scratch/{i:03d}.png")
        Image.fromarray(mask).save(cat / f"ground_truth/scratch/{i:03d}_mask.png")
    return cat


def test_mvtec_layout_loader(tmp_path: Path) -> None:
    cat = make_mvtec(tmp_path)
    ds = load_mvtec(cat, calibration_fraction=0.3)
    assert len(ds.train) + len(ds.calibration) == 10
    assert 0 < len(ds.calibration) < 10
    assert ds.defect_types == ["scratch"]
    labels = sorted(s.label for s in ds.test)
    assert labels == [0, 0, 0, 1, 1, 1]
    bad = [s for s in ds.test if s.label == 1][0]
    assert bad.mask is not None and bad.mask.name == f"{bad.path.stem}_mask.png"
    mask = read_mask(bad.mask, (32, 32))
    assert mask.dtype == bool and 0.05 < mask.mean() < 0.15  # 10 x 40 of 64 x 64 = 9.8 %
    # The split is by hash of the stem: stable across calls.
    assert [s.path for s in load_mvtec(cat, 0.3).calibration] == [s.path for s in ds.calibration]
    assert load_inspection_data(cat).name == "widget"
    img = read_image(bad.path)
    assert img.shape == (64, 64, 3) and img.dtype == np.float32 and img.max() <= 1.0
    assert to_batch([img], (32, 32)).shape == (1, 3, 32, 32)


def test_mvtec_missing_mask_names_the_file(tmp_path: Path) -> None:
    cat = make_mvtec(tmp_path)
    (cat / "ground_truth/scratch/001_mask.png").unlink()
    with pytest.raises(DataError, match="001_mask.png"):
        load_mvtec(cat)
    with pytest.raises(DataError, match="unknown layout"):
        load_inspection_data(tmp_path)


def test_magnetic_tile_loader_real(shared_data) -> None:
    root = shared_data("magnetic_tile")
    ds = load_magnetic_tile(root)
    n_free = len(list((root / "MT_Free/Imgs").glob("*.jpg")))
    n_test_good = sum(1 for s in ds.test if s.label == 0)
    assert len(ds.train) + len(ds.calibration) + n_test_good == n_free
    assert abs(len(ds.train) / n_free - 0.55) < 0.06
    assert set(ds.defect_types) == {"blowhole", "break", "crack"}
    crack = next(s for s in ds.test if s.defect == "crack")
    img = read_image(crack.path)
    assert np.allclose(img[..., 0], img[..., 1])  # grayscale replicated to RGB
    m = read_mask(crack.mask, img.shape[:2])
    assert 0 < m.mean() < 0.2


def test_auroc_aupro_on_known_maps() -> None:
    rng = np.random.default_rng(0)
    masks = np.zeros((4, 32, 32), bool)
    masks[0, 5:10, 5:10] = True
    masks[1, 20:30, 2:4] = True
    perfect = masks.astype(np.float32) + 0.01 * rng.random(masks.shape).astype(np.float32)
    assert metrics.pixel_auroc(masks, perfect) == pytest.approx(1.0)
    assert metrics.aupro(masks, perfect) > 0.99
    noise = rng.random(masks.shape).astype(np.float32)
    assert 0.3 < metrics.pixel_auroc(masks, noise) < 0.7
    # Random scores give PRO ~ FPR, so the normalised area to 0.3 is about 0.15.
    assert 0.08 < metrics.aupro(masks, noise) < 0.25
    assert metrics.image_auroc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    rates = metrics.decision_rates(
        np.array([0, 0, 0, 0, 1, 1]), np.array([1, 2, 3, 9, 8, 2.5]), 5.0
    )
    assert rates["false_reject_rate"] == 0.25 and rates["escape_rate"] == 0.5


def test_threshold_from_good_and_refine() -> None:
    good = np.arange(1000, dtype=float)
    t = threshold_from_good(good, 0.01)
    assert np.mean(good > t) <= 0.01 and np.mean(good > t) > 0.005
    with pytest.raises(DataError):
        threshold_from_good(good, 1.5)
    # Defects well above the good tail: refinement keeps zero escapes, never below the FRR budget.
    bad = np.array([1200.0, 1300.0, 1500.0])
    r = refine_threshold(good, bad, max_false_reject_rate=0.05)
    assert r >= threshold_from_good(good, 0.05)
    assert np.all(bad > r) and np.mean(good > r) <= 0.05
    assert refine_threshold(good, [], max_false_reject_rate=0.02) == threshold_from_good(good, 0.02)


def test_coreset_covers_rare_clusters() -> None:
    rng = np.random.default_rng(1)
    common = rng.normal(0, 0.1, (2000, 16))
    rare = rng.normal(5, 0.1, (5, 16))  # a rare but normal appearance
    x = np.vstack([common, rare]).astype(np.float32)
    keep = greedy_coreset(x, 20, projection_dim=8, seed=0)
    assert len(set(keep.tolist())) == 20
    assert np.any(keep >= 2000), "k-center must keep the far-away rare cluster"
    # Every point is close to a kept point: max coverage radius far below the cluster gap.
    d = np.sqrt(((x[:, None, :] - x[keep][None]) ** 2).sum(-1)).min(1)
    assert d.max() < 1.5
    assert len(greedy_coreset(x[:10], 50)) == 10
