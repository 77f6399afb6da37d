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
    return PatchCore(image_size=SIZE, bank_size=256, batch_size=6).fit(good)


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
            "--defects",
            str(cat / "test/crack/000.png"),
            "--defects",
            str(cat / "test/crack/001.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    rman = EdgeModule.load(refined).manifest
    assert "refined with 2 defect images" in rman.verification["calibration"]["threshold_rule"]
    mod = EdgeModule.load(module, precision="int8")
    assert mod.manifest.task == "vision-anomaly"
    par = mod.manifest.verification["parity"]
    assert (
        par["fp32_score"]["passed"]
        and par["int8_score"]["max_abs"] < 0.2 * mod.manifest.postprocess["thresholds"]["int8"]
    )
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
    raw_onnx = det.to_onnx()
    calib = [p.image for p in station.parts(6, start=300)]
    loo = det.fit_position_norm(calib)
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
