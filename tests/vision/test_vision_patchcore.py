"""PatchCore end to end on the simulated inspection station: fit, export, parity, module, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from edgetwin.core import EVENTS_SCHEMA
from edgetwin.vision import metrics
from edgetwin.vision.datasets import load_mvtec
from edgetwin.vision.export import run_onnx
from edgetwin.vision.image import to_batch
from edgetwin.vision.synthetic import InspectionStation

SIZE = (128, 128)


@pytest.fixture(scope="module")
def station() -> InspectionStation:
    return InspectionStation(size=SIZE, defect_rate=0.0, seed=3)


@pytest.fixture(scope="module")
def fitted(station: InspectionStation):
    from edgetwin.vision.patchcore import PatchCore

    good = [p.image for p in station.parts(10)]
    # The image Gaussian is an option (off by default): fitted here so its tests can use it.
    return PatchCore(image_size=SIZE, bank_size=256, batch_size=6, image_gaussian=True).fit(good)


def test_station_writes_mvtec_layout(tmp_path: Path) -> None:
    from edgetwin.vision.synthetic import write_mvtec_layout

    cat = write_mvtec_layout(
        InspectionStation(SIZE, seed=1),
        tmp_path / "station",
        n_train=10,
        n_test_good=2,
        n_test_defect=2,
    )
    ds = load_mvtec(cat)
    assert len(ds.train) + len(ds.calibration) == 10
    assert ds.defect_types == ["blowhole", "crack"] and sum(s.label for s in ds.test) == 4


def test_station_ground_truth(station: InspectionStation) -> None:
    crack = station.defective("crack", 1)
    hole = station.defective("blowhole", 2)
    for part in (crack, hole):
        assert part.label == 1 and part.mask.any() and part.mask.mean() < 0.1
        # The defect is darker than the surface around it.
        assert part.image[part.mask].mean() < part.image[~part.mask].mean() - 0.1
    assert (
        InspectionStation(SIZE, seed=3).part(5).image.tobytes() == station.part(5).image.tobytes()
    )
    parts = InspectionStation(SIZE, defect_rate=0.2, seed=0).parts(200)
    assert 0.1 < np.mean([p.label for p in parts]) < 0.3


@pytest.fixture(scope="module")
def exported(fitted) -> bytes:
    return fitted.to_onnx()


def test_fit_scores_defects_above_good_and_localises(
    fitted, exported, station: InspectionStation
) -> None:
    good = [p.image for p in station.parts(8, start=100)]
    bad_parts = [station.defective(d, i) for i in range(4) for d in ("crack", "blowhole")]
    maps, scores = run_onnx(exported, to_batch(good + [p.image for p in bad_parts]))
    assert fitted.memory_bank_.shape == (256, 152)
    labels = np.array([0] * 8 + [1] * 8)
    assert metrics.image_auroc(labels, scores) >= 0.9
    masks = np.stack([np.zeros(SIZE, bool)] * 8 + [p.mask for p in bad_parts])
    assert metrics.pixel_auroc(masks, maps) >= 0.9
    # Every defect is localised: its pixels score above the bulk of its own background.
    for i, part in enumerate(bad_parts, start=8):
        assert maps[i][part.mask].mean() > np.quantile(maps[i][~part.mask], 0.9)


def test_onnx_parity_and_dynamic_size(fitted, exported, station: InspectionStation) -> None:
    onnx_bytes = exported
    imgs = [station.part(200).image, station.defective("crack", 9).image]
    ref_maps, ref_scores = fitted.predict(imgs)
    maps, scores = run_onnx(onnx_bytes, to_batch(imgs))
    assert maps.shape == (2, *SIZE)
    np.testing.assert_allclose(scores, ref_scores, rtol=5e-3, atol=1e-3)
    assert np.abs(maps - ref_maps).max() < 0.01 * ref_scores.max()
    # One file serves other sizes (multiples of 32): 64 x 96 px.
    m2, s2 = run_onnx(onnx_bytes, np.random.default_rng(0).random((1, 3, 64, 96), dtype=np.float32))
    assert m2.shape == (1, 64, 96) and np.isclose(s2[0], m2.max(), rtol=1e-5)


def _write_station_mvtec(root: Path, station: InspectionStation) -> Path:
    cat = root / "tiles"
    for sub in ("train/good", "test/good", "test/crack", "ground_truth/crack"):
        (cat / sub).mkdir(parents=True)
    u8 = lambda a: (np.clip(a, 0, 1) * 255).astype(np.uint8)  # noqa: E731
    for i, p in enumerate(station.parts(40)):
        Image.fromarray(u8(p.image[..., 0])).save(cat / f"train/good/{i:03d}.png")
    for i, p in enumerate(station.parts(4, start=50)):
        Image.fromarray(u8(p.image[..., 0])).save(cat / f"test/good/{i:03d}.png")
    for i in range(4):
        p = station.defective("crack", 30 + i)
        Image.fromarray(u8(p.image[..., 0])).save(cat / f"test/crack/{i:03d}.png")
        Image.fromarray(p.mask.astype(np.uint8) * 255).save(
            cat / f"ground_truth/crack/{i:03d}_mask.png"
        )
    return cat


def test_module_cli_train_eval_inspect(tmp_path: Path, station: InspectionStation) -> None:
    from edgetwin.cli.vision import app
    from edgetwin.edge import EdgeModule
    from edgetwin.vision.inspect import Inspector

    cat = _write_station_mvtec(tmp_path, station)
    assert len(load_mvtec(cat).calibration) >= 5
    runner = CliRunner()
    module = tmp_path / "insp.zip"
    res = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(cat),
            "--out",
            str(module),
            "--image-size",
            "128",
            "--bank-size",
            "256",
            "--frr",
            "0.2",
        ],
    )
    assert res.exit_code == 0, res.output
    # A few known defects refine the threshold (never above the FRR budget's quantile rule).
    refined = tmp_path / "refined.zip"
    res = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(cat),
            "--out",
            str(refined),
            "--image-size",
            "128",
            "--bank-size",
            "256",
            "--no-int8",
            "--observed-px",
            "-1",
            "--defects",
            str(cat / "test/crack/000.png"),
            "--defects",
            str(cat / "test/crack/001.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    rman = EdgeModule.load(refined).manifest
    assert "refined with 2 defect images" in rman.verification["calibration"]["threshold_rule"]
    assert "clipped" not in rman.description  # --observed-px -1: no clipped-pixel mask
    assert "clipped" in EdgeModule.load(module).manifest.description  # the default masks
    mod = EdgeModule.load(module, precision="int8")
    assert mod.manifest.task == "vision-anomaly"
    par = mod.manifest.verification["parity"]
    # fp32 export matches the torch graph; INT8 has its own calibration statistics (so its
    # scores are on its own scale), and must still rank a crack above a good part.
    assert par["fp32_score"]["passed"] and par["fp32_map"]["passed"] and "int8_score" in par
    insp8 = Inspector(module, precision="int8")
    crack8 = insp8.inspect(cat / "test/crack/000.png")
    good8 = insp8.inspect(cat / "test/good/000.png")
    assert crack8.score > good8.score and crack8.threshold == pytest.approx(
        mod.manifest.postprocess["thresholds"]["int8"]
    )
    # Overlays are scaled by the map's own good-part threshold (the score adds the Gaussian).
    post = mod.manifest.postprocess
    assert set(post["map_thresholds"]) == {"fp32", "int8"}
    assert insp8.map_threshold == pytest.approx(post["map_thresholds"]["int8"])
    # Default: photometric standardisation on, no image Gaussian, so the score is the map max
    # and both thresholds coincide.
    hp = mod.manifest.model.hyperparameters
    assert hp["image_gaussian"] is None and len(hp["photometric"]) == 2
    assert post["map_thresholds"] == pytest.approx(post["thresholds"])
    res = runner.invoke(
        app,
        [
            "eval",
            "--model",
            str(module),
            "--data",
            str(cat),
            "--out",
            str(tmp_path / "ev"),
            "--overlays",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "ev/metrics.json").read_text())
    assert m["image_auroc"] >= 0.9 and m["n_defective"] == 4
    pngs = sorted((tmp_path / "ev/overlays").glob("*.png"))
    assert len(pngs) == 3 and all(p.stat().st_size > 1000 for p in pngs)
    res = runner.invoke(
        app,
        [
            "inspect",
            "--model",
            str(module),
            "--json",
            str(cat / "test/crack/000.png"),
            str(cat / "test/good/000.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.output.strip().splitlines()]
    assert rows[0]["score"] > rows[1]["score"]
    # The line-side inspector: events table row with the overlay on disk.
    insp = Inspector(module, overlay_dir=tmp_path / "ov", source="site/line1/inspect1")
    r = insp.inspect(cat / "test/crack/001.png")
    table = insp.events([r])
    assert table.schema.equals(EVENTS_SCHEMA)
    payload = json.loads(table.column("payload")[0].as_py())
    assert payload["decision"] == r.decision and Path(payload["overlay_path"]).is_file()
    assert table.column("kind")[0].as_py() == "inspection"
    assert table.column("source")[0].as_py() == "site/line1/inspect1"


def test_position_statistics_and_leave_one_out() -> None:
    from edgetwin.vision.patchcore import leave_one_out_scores, position_statistics

    rng = np.random.default_rng(0)
    # Good maps with a bright border (tile edges): high there in every good image.
    base = np.ones((16, 16))
    base[:2, :] = base[-2:, :] = 5.0
    maps = base + 0.1 * rng.standard_normal((12, 16, 16))
    mean, std = position_statistics(maps)
    np.testing.assert_allclose(mean, maps.mean(0), rtol=1e-5)
    fresh = base + 0.1 * rng.standard_normal((16, 16))
    fresh[8, 8] += 1.0  # a small interior defect, well below the raw border level
    assert np.unravel_index(fresh.argmax(), fresh.shape)[0] in (0, 1, 14, 15)
    z = (fresh - mean) / std
    assert np.unravel_index(z.argmax(), z.shape) == (8, 8) and z.max() > 5
    # Leave-one-out equals recomputing the statistics without the image.
    loo = leave_one_out_scores(maps)
    for i in (0, 5, 11):
        m, s = position_statistics(np.delete(maps, i, axis=0))
        assert np.isclose(loo[i], ((maps[i] - m) / s).max(), rtol=1e-4)


def test_position_norm_in_graph(fitted, station: InspectionStation) -> None:
    import copy

    det = copy.deepcopy(fitted)
    det.position_norm = True
    raw_onnx = det.to_onnx()
    calib = [p.image for p in station.parts(6, start=300)]
    loo = det.calibrate(calib)
    assert loo.shape == (6,) and det.pos_mean_.shape == SIZE and (det.pos_std_ > 0).all()
    onnx_bytes = det.to_onnx()
    imgs = [station.part(400).image, station.defective("blowhole", 4).image]
    raw_maps, _ = run_onnx(raw_onnx, to_batch(imgs))
    maps, scores = run_onnx(onnx_bytes, to_batch(imgs))
    # The graph computes (raw - mean) / std, and the torch path agrees with it.
    np.testing.assert_allclose(maps, (raw_maps - det.pos_mean_) / det.pos_std_, atol=1e-3)
    ref_maps, ref_scores = det.predict(imgs)
    np.testing.assert_allclose(scores, ref_scores, rtol=5e-3, atol=1e-3)
    assert scores[1] > scores[0]
    m2, _ = run_onnx(onnx_bytes, np.random.default_rng(0).random((1, 3, 64, 96), dtype=np.float32))
    assert m2.shape == (1, 64, 96) and np.isfinite(m2).all()


def test_photometric_standardisation_makes_gain_and_offset_irrelevant(
    fitted, exported, station: InspectionStation
) -> None:
    # The fitted detector standardises each image's gray level in the graph: a global gain
    # and offset (a darker lamp, a different exposure) leave the map unchanged (up to clipping,
    # which these values avoid).
    assert fitted.photometric_ref_ is not None and 0.0 < fitted.photometric_ref_[1] < 0.5
    img = station.defective("crack", 7).image
    x = to_batch([img])
    dim = (x - 0.5) * 0.6 + 0.45  # 40 % less contrast, 5 % darker: stays inside [0, 1]
    assert 0.0 < dim.min() and dim.max() < 1.0 and abs(dim.std() - 0.6 * x.std()) < 1e-3
    ref_maps, ref_scores = run_onnx(exported, x)
    maps, scores = run_onnx(exported, dim)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-3, atol=1e-3)
    assert np.abs(maps - ref_maps).max() < 1e-3 * np.abs(ref_maps).max()


def test_image_gaussian_and_score_combination() -> None:
    from edgetwin.vision.patchcore import calibrate_scores, gaussian_precision

    rng = np.random.default_rng(0)
    pooled = rng.standard_normal((400, 5)) * [1.0, 2.0, 0.5, 1.0, 3.0]
    mean, prec = gaussian_precision(pooled, [2, 3])
    # One Gaussian per level: block-diagonal precision, close to the inverse variances here.
    assert np.allclose(prec[:2, 2:], 0) and np.allclose(prec[2:, :2], 0)
    np.testing.assert_allclose(np.diag(prec), [1.0, 0.25, 4.0, 1.0, 1 / 9], rtol=0.2)
    np.testing.assert_allclose(mean, pooled.mean(0), rtol=1e-5, atol=1e-6)
    with pytest.raises(Exception, match="pooled features"):
        gaussian_precision(pooled, [2, 2])
    # Combination: each score standardised on good calibration parts, then added.
    maps = 1.0 + 0.1 * rng.standard_normal((20, 8, 8))
    maha = rng.chisquare(5, size=20)
    cal = calibrate_scores(maps, maha, position_norm=False)
    map_max = maps.reshape(20, -1).max(1)
    assert cal.position is None and cal.score_norm is not None
    loc, scale = cal.score_norm
    np.testing.assert_allclose(loc, [map_max.mean(), maha.mean()], rtol=1e-5)
    expect = (map_max - map_max.mean()) / map_max.std(ddof=1) + (maha - maha.mean()) / maha.std(
        ddof=1
    )
    np.testing.assert_allclose(cal.scores, expect, rtol=1e-4, atol=1e-5)
    assert abs(cal.scores.mean()) < 1e-6 and 1.0 < cal.scores.std(ddof=1) < 2.0
    only_map = calibrate_scores(maps, None, position_norm=True)
    assert only_map.score_norm is None and only_map.position is not None


def test_calibrated_graph_adds_standardised_scores(fitted, station: InspectionStation) -> None:
    import copy

    from edgetwin.vision.export import run_onnx_parts

    det = copy.deepcopy(fitted)
    det.position_norm = True
    calib = [p.image for p in station.parts(8, start=300)]
    scores = det.calibrate(calib)
    assert scores.shape == (8,) and det.calibration_ is not None
    loc, scale = det.calibration_.score_norm
    imgs = [station.part(401).image, station.defective("blowhole", 5).image]
    maps, got, parts = run_onnx_parts(det.to_onnx(), to_batch(imgs))
    np.testing.assert_allclose(got, ((parts - loc) / scale).sum(1), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(parts[:, 0], maps.reshape(2, -1).max(1), rtol=1e-5)
    assert parts[1, 1] > 0 and got[1] > got[0]
    _, ref_scores = det.predict(imgs)
    np.testing.assert_allclose(got, ref_scores, rtol=5e-3, atol=5e-3)


def test_search_projection_keeps_the_ranking(fitted, station: InspectionStation) -> None:
    import copy

    det = copy.deepcopy(fitted)
    det.search_dim = 48
    det.model_ = det._build_model(det.model_.features, None)
    good = [p.image for p in station.parts(4, start=500)]
    bad = [station.defective(k, i).image for i, k in enumerate(["crack", "blowhole"] * 2)]
    maps, scores = run_onnx(det.to_onnx(), to_batch(good + bad))
    full_maps, full_scores = run_onnx(fitted.to_onnx(), to_batch(good + bad))
    # Random projection preserves distances up to a modest relative error (JL), so every
    # defect still scores above every good part, and the maps stay close.
    assert scores[4:].min() > scores[:4].max()
    assert np.corrcoef(maps.ravel(), full_maps.ravel())[0, 1] > 0.9
