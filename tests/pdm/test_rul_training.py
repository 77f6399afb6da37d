"""A tiny real training run beats a trivial baseline, and the exported module matches torch."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from edgetwin.core.errors import DataError  # noqa: E402
from edgetwin.edge import EdgeModule, read_manifest  # noqa: E402
from edgetwin.pdm.datasets.cmapss import load_runs, load_truth  # noqa: E402
from edgetwin.pdm.metrics import rmse  # noqa: E402
from edgetwin.pdm.rul.estimator import CnnRulRegressor  # noqa: E402
from edgetwin.pdm.rul.module import evaluate_module, export_module, predict_last  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    # module-scoped (train once for all tests here), so the function-scoped fixture can't be used
    root = (
        Path(
            os.environ.get("EDGETWIN_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
        )
        / "cmapss"
    )
    if not (root / "train_FD001.txt").is_file():
        pytest.skip(f"C-MAPSS not found at {root} (set EDGETWIN_DATA)")
    runs = load_runs(root / "train_FD001.txt")
    est = CnnRulRegressor(
        n_folds=2, max_epochs=8, patience=8, samples_per_epoch=4096, max_engines=40, n_threads=1
    ).fit(runs)
    path = export_module(
        est, runs, tmp_path_factory.mktemp("rul") / "rul.zip", calibration_samples=128
    )
    return root, runs, est, path


def test_tiny_training_beats_mean_baseline(trained) -> None:
    root, runs, est, _ = trained
    test = load_runs(root / "test_FD001.txt")
    truth = np.minimum(load_truth(root / "RUL_FD001.txt", len(test.units)), 125)
    pred = est.predict(test.histories())
    baseline = np.full_like(truth, np.minimum(runs.rul_train(), 125).mean())
    assert rmse(truth, pred) < 0.75 * rmse(truth, baseline)
    assert len(est.member_epochs_) == 2  # 2 folds x 1 repeat (the default)


def test_module_round_trip_matches_torch(trained) -> None:
    root, runs, est, path = trained
    mod = EdgeModule.load(path)
    histories = load_runs(root / "test_FD001.txt").histories()[:20]
    out = mod.predict(histories)
    np.testing.assert_allclose(out["rul"], np.maximum(est.predict(histories), 0), atol=0.05)
    rul, lo, hi = predict_last(mod, histories[3])
    assert lo <= rul <= hi and rul == pytest.approx(out["rul"][3], abs=1e-6)
    manifest = read_manifest(path)
    assert manifest.task == "rul"
    # the defaults: 80 cycles read as 40 steps of 2 (docs/pdm_rul.md, "Window")
    assert manifest.preprocess["params"]["window"] == 80
    assert manifest.preprocess["params"]["step_cycles"] == 2
    assert manifest.verification["int8_rmse_vs_fp32_cycles"] < 5.0
    # the default inputs beyond the sensors are named where an integrator reads the module
    notes = " ".join(manifest.preparation)
    assert f"cycle number / {est.age_scale_:.1f}" in notes
    assert "first 20 cycles (change since start)" in notes
    assert manifest.preprocess["params"]["age_scale"] == pytest.approx(est.age_scale_)


def test_selection_free_oof_beside_the_kept_epochs_and_which_calibrates(trained) -> None:
    _, _, est, path = trained
    from edgetwin.pdm.rul.conformal import MondrianIntervals

    assert len(est.cross_oof_engines_) == len(est.oof_engines_) == 40
    for (y_c, p_c), (y_o, p_o) in zip(est.cross_oof_engines_, est.oof_engines_, strict=True):
        np.testing.assert_array_equal(y_c, y_o)
        assert p_c.shape == p_o.shape
    yt = np.concatenate([y for y, _ in est.oof_engines_])
    yc = np.concatenate([p for _, p in est.cross_oof_engines_])
    yk = np.concatenate([p for _, p in est.oof_engines_])
    assert est.cross_oof_rmse_ == pytest.approx(rmse(yt, yc))
    assert rmse(*est.calibration_set("cross")) == pytest.approx(est.cross_oof_rmse_)
    assert rmse(*est.calibration_set()) == pytest.approx(est.oof_rmse_)  # default: kept
    with pytest.raises(DataError, match="'oof'.*'kept' or 'cross'"):
        est.calibration_set("oof")
    # 8 epochs, folds of 20 engines: some half picks another epoch than its whole fold did
    assert not np.array_equal(yc, yk)
    # the default ("kept") calibrates on the kept epochs' predictions, not the selection-free ones
    assert est.calibration == "kept"
    got = est.intervals_.to_params()
    for preds, calibrated_on in ((yk, True), (yc, False)):
        want = MondrianIntervals(coverage=est.coverage).fit(yt, preds).to_params()
        match = all(np.allclose(got[k], want[k]) for k in ("edges", "lo", "hi", "phm_shift"))
        assert match == calibrated_on
    manifest = read_manifest(path)
    assert manifest.verification["oof_rmse_cross_selected"] == round(est.cross_oof_rmse_, 3)
    assert manifest.verification["interval_calibration"] == "kept"


def test_calibration_must_be_kept_or_cross(shared_data) -> None:
    runs = load_runs(shared_data("cmapss") / "train_FD001.txt")
    with pytest.raises(DataError, match="calibration='oof'.*'kept'.*'cross'"):
        CnnRulRegressor(calibration="oof", max_engines=4, n_folds=2).fit(runs)


def test_evaluate_module_int8_close_to_fp32(trained) -> None:
    root, _, _, path = trained
    args = (path, root / "test_FD001.txt", root / "RUL_FD001.txt")
    fp32, int8 = evaluate_module(*args), evaluate_module(*args, precision="int8")
    assert fp32["engines"] == 100
    bands = fp32["by_truth"]
    assert sum(b["engines"] for b in bands) == 100
    assert sum(b["sse_share"] for b in bands) == pytest.approx(1.0)
    # the bands' squared errors add up to the split's RMSE
    sse = sum(b["rmse"] ** 2 * b["engines"] for b in bands if b["engines"])
    assert np.sqrt(sse / 100) == pytest.approx(fp32["rmse"])
    assert 0.5 <= fp32["coverage"] <= 1.0
    assert abs(int8["rmse"] - fp32["rmse"]) < 0.1 * fp32["rmse"]


def test_eval_rul_cli_prints_table_writes_plot_records_metrics(trained, tmp_path: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    from edgetwin.cli.pdm import app

    root, _, _, path = trained
    model = tmp_path / "rul.zip"
    shutil.copy(path, model)
    png = tmp_path / "pred.png"
    args = ["eval-rul", "--model", str(model), "--test", str(root / "test_FD001.txt")]
    res = CliRunner().invoke(
        app, [*args, "--truth", str(root / "RUL_FD001.txt"), "--plot", str(png)]
    )
    assert res.exit_code == 0, res.output
    assert "capped at 125" in res.output and "PHM08 score" in res.output
    assert "error by true RUL" in res.output and ">= 125" in res.output
    assert png.stat().st_size > 10_000
    verification = read_manifest(model).verification
    assert 0 < verification["test_FD001_fp32_rmse"] < 60
    assert 0 <= verification["test_FD001_fp32_coverage"] <= 1


def test_cross_calibration_fits_the_intervals_on_the_selection_free_predictions(
    shared_data,
) -> None:
    from edgetwin.pdm.rul.conformal import MondrianIntervals

    runs = load_runs(shared_data("cmapss") / "train_FD001.txt")
    est = CnnRulRegressor(
        calibration="cross",
        n_folds=2,
        max_epochs=6,
        patience=6,
        samples_per_epoch=1024,
        lr=1e-2,  # a fast, noisy descent, so the halves of a fold choose different epochs
        channels=8,
        max_engines=12,
        n_threads=1,
    ).fit(runs)
    yt = np.concatenate([y for y, _ in est.cross_oof_engines_])
    yc = np.concatenate([p for _, p in est.cross_oof_engines_])
    assert not np.array_equal(yc, np.concatenate([p for _, p in est.oof_engines_]))
    want = MondrianIntervals(coverage=est.coverage).fit(yt, yc).to_params()
    got = est.intervals_.to_params()
    for key in ("edges", "lo", "hi", "phm_shift"):
        np.testing.assert_allclose(got[key], want[key])
