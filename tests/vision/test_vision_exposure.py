"""Clipped-pixel masking (`edgetwin.vision.exposure`): glare and over-exposure are not defects."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from edgetwin.vision.export import run_onnx_parts
from edgetwin.vision.exposure import HIGH, observed_mask
from edgetwin.vision.image import to_batch
from edgetwin.vision.synthetic import InspectionStation

SIZE = (128, 128)
OUT = ("anomaly_map", "score", "score_parts", "pooled", "observed")


@pytest.fixture(scope="module")
def station() -> InspectionStation:
    return InspectionStation(size=SIZE, defect_rate=0.0, seed=5)


@pytest.fixture(scope="module")
def detectors(station: InspectionStation):
    """The same bank with the default mask (8 px) and without it (calibrated alike)."""
    from edgetwin.vision.patchcore import PatchCore

    good = [p.image for p in station.parts(10)]
    masked = PatchCore(image_size=SIZE, bank_size=256, batch_size=6, position_norm=True).fit(good)
    plain = copy.deepcopy(masked)
    plain.observed_px = None
    calib = [p.image for p in station.parts(8, start=200)]
    masked.calibrate(calib)
    plain.calibrate(calib)
    return masked, plain


def test_observed_mask_rule() -> None:
    x = np.full((1, 3, 40, 40), 0.5, dtype=np.float32)
    x[0, 1, 20, 20] = 1.0  # one saturated pixel in one channel
    x[0, :, 0, 0] = 0.0  # one pixel clipped at zero
    keep = observed_mask(x, radius_px=3)
    assert keep.shape == (1, 40, 40)
    assert keep[0, 17:24, 17:24].sum() == 0 and keep[0, 16, 20] == 1 and keep[0, 20, 24] == 1
    assert keep[0, :4, :4].sum() == 0 and keep[0, 4, 0] == 1
    assert keep.sum() == 40 * 40 - 49 - 16
    np.testing.assert_array_equal(
        observed_mask(x, radius_px=0)[0] == 0, (x[0] >= HIGH).any(0) | (x[0] <= 0).any(0)
    )


def test_clipped_plateau_is_found_after_a_contrast_change() -> None:
    rng = np.random.default_rng(0)
    import cv2

    # A smooth surface (coarse random relief, bilinear-upsampled): one peak, one valley.
    relief = cv2.resize(rng.uniform(0.2, 0.9, size=(8, 8)).astype(np.float32), (64, 64))
    x = relief[None, None].repeat(3, axis=1)
    # An unclipped image with continuous values reaches its extreme at one pixel: nothing masked.
    assert observed_mask(x, radius_px=0).min() == 1.0
    bright = np.clip(x + 0.2, 0.0, 1.0)  # clips the brightest few % of the pixels at 1.0
    flat = (bright - 0.5) * 0.6 + 0.5  # then 40 % less contrast: the plateau sits at 0.8
    assert flat.max() < HIGH
    clipped = observed_mask(bright, radius_px=0)
    assert 0.01 < 1.0 - clipped.mean() < 0.2
    # The same pixels are found (plus the few within half a uint8 step of the plateau's level,
    # since 40 % less contrast brings them closer), on the bright and on the dark side.
    for found in (observed_mask(flat, radius_px=0), observed_mask(1.0 - flat, radius_px=0)):
        assert np.all(found[clipped == 0] == 0) and np.mean(found != clipped) < 0.002


def test_graph_masks_saturated_glare_and_reports_it(detectors, station: InspectionStation) -> None:
    masked, plain = detectors
    good = station.part(400).image
    glare = good.copy()
    glare[30:46, 70:90] = 1.0  # a saturated reflection on a good part
    crack = station.defective("crack", 3).image
    flat = (glare - 0.5) * 0.6 + 0.5  # the glare part under flatter light: plateau below 1.0
    batch = to_batch([good, glare, crack, flat])
    m_maps, m_scores, _, _, m_obs = run_onnx_parts(masked.to_onnx(), batch, names=OUT)
    p_maps, p_scores, _, _, p_obs = run_onnx_parts(plain.to_onnx(), batch, names=OUT)
    keep = observed_mask(batch, 8)
    np.testing.assert_array_equal(keep[3], keep[1])
    # The graph applies the same rule as the numpy mask: zero map under it, observed fraction.
    assert np.all(m_maps[1][keep[1] == 0] == 0)
    np.testing.assert_allclose(m_obs, keep.mean(axis=(1, 2)), atol=1e-6)
    assert m_obs[0] == 1.0 and 0.9 < m_obs[1] < 0.97 and np.all(p_obs == 1.0)
    np.testing.assert_allclose(m_maps[keep > 0], p_maps[keep > 0], rtol=1e-5, atol=1e-5)
    # Unmasked, the flat saturated patch is the most unusual thing on the part; masked, less
    # than half of that excess remains (the rim of the patch, outside the mask, still shows).
    assert p_scores[1] > p_scores[0] + 1.0
    assert m_scores[1] < m_scores[0] + 0.5 * (p_scores[1] - p_scores[0])
    np.testing.assert_allclose(m_scores[[0, 2]], p_scores[[0, 2]], rtol=1e-5)
    assert np.all(m_maps[3][keep[3] == 0] == 0) and m_obs[3] == pytest.approx(m_obs[1])
    assert m_scores[3] < p_scores[3]


def test_brightening_that_saturates_is_tolerated(detectors, station: InspectionStation) -> None:
    masked, plain = detectors
    goods = [p.image for p in station.parts(6, start=600)]
    bright = [np.clip(g + 0.5, 0.0, 1.0) for g in goods]
    sat = np.mean([(b >= HIGH).mean() for b in bright])
    assert 0.1 < sat < 0.7  # the brightening clips part of each image, not all of it
    onnx_m, onnx_p = masked.to_onnx(), plain.to_onnx()
    _, clean_m = run_onnx_parts(onnx_m, to_batch(goods), names=OUT[:2])
    _, bright_m = run_onnx_parts(onnx_m, to_batch(bright), names=OUT[:2])
    _, clean_p = run_onnx_parts(onnx_p, to_batch(goods), names=OUT[:2])
    _, bright_p = run_onnx_parts(onnx_p, to_batch(bright), names=OUT[:2])
    # Without the mask brightened good parts score far above every clean good part (false
    # rejects); with it none does, since what remains observed is the part's own texture.
    assert np.median(bright_p - clean_p) > 5.0 and bright_p.max() > 3 * clean_p.max()
    assert bright_m.max() <= clean_m.max() * 1.01


def test_inspector_rejects_a_part_it_could_not_see(tmp_path, station: InspectionStation) -> None:
    import json

    from edgetwin.vision.datasets import load_mvtec
    from edgetwin.vision.inspect import Inspector
    from edgetwin.vision.synthetic import write_mvtec_layout
    from edgetwin.vision.train import train_inspection

    cat = write_mvtec_layout(station, tmp_path / "st", n_train=30, n_test_good=1, n_test_defect=1)
    res = train_inspection(
        load_mvtec(cat), tmp_path / "m.zip", image_size=SIZE, bank_size=256, int8=False
    )
    assert res.detector.hyperparameters()["observed_px"] == 8
    insp = Inspector(res.path)
    good = insp.inspect(station.part(700).image, name="good")
    assert good.decision == "pass" and good.observed == 1.0
    # A saturated frame (flash, lamp fault): nothing observed, the map is all zero, so the score
    # alone would pass it; the inspector rejects it and says why in the payload.
    white = insp.inspect(np.ones((*SIZE, 3), np.float32), name="white")
    assert white.observed == 0.0 and white.score <= white.threshold and white.decision == "reject"
    payload = json.loads(insp.events([white]).column("payload")[0].as_py())
    assert payload["observed"] == 0.0 and payload["decision"] == "reject"
