"""The detector as a signed edge module: predict() reproduces the numpy protocol, the CLI
trains and evaluates it, and the manifest carries measured figures."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgetwin.pdm.datasets.skab import SENSOR_COLUMNS, SkabRun


@pytest.fixture(autouse=True)
def _edge_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGETWIN_HOME", str(tmp_path / "edgetwin-home"))


def _run(path: Path, seed: int, shift: float) -> SkabRun:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(900, 8)) + np.arange(8)
    y = np.zeros(900, dtype=np.int8)
    y[550:750] = 1
    x[550:750, 7] += shift
    cp = np.zeros(900, dtype=np.int8)
    cp[[550, 750]] = 1
    ts = np.datetime64("2020-03-09T10:00:00", "s") + np.arange(900).astype("timedelta64[s]")
    return SkabRun(path=path, ts=ts, values=x, anomaly=y, changepoint=cp)


def _write_csv(run: SkabRun) -> None:
    run.path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["datetime;" + ";".join(SENSOR_COLUMNS) + ";anomaly;changepoint"]
    for t, row, a, c in zip(run.ts, run.values, run.anomaly, run.changepoint, strict=True):
        lines.append(
            ";".join([str(t).replace("T", " "), *(f"{v:.6f}" for v in row), f"{a}.0", f"{c}.0"])
        )
    run.path.write_text("\n".join(lines) + "\n")


def test_module_predict_equals_numpy_protocol(tmp_path: Path) -> None:
    from edgetwin.edge import EdgeModule, read_manifest
    from edgetwin.pdm.detect.module import build_detector_module, evaluate_module, fit_detector

    runs = [_run(tmp_path / "v" / f"{i}.csv", i, shift=3.0) for i in range(4)]
    for r in runs:
        _write_csv(r)
    det = fit_detector(runs)
    path, report = build_detector_module(det, runs, tmp_path / "det.zip", int8=False)
    assert report == {"int8": "not requested"}
    mod = EdgeModule.load(path)
    for r in runs:
        ref = det.predict_run(r.values).flags
        got = mod.predict(r.values)
        assert (got == ref).mean() > 0.999
    ev, lat = evaluate_module(path, runs)
    assert ev.whole.f1 > 0.8 and len(lat) == 4
    man = read_manifest(path)
    assert man.task == "anomaly" and man.model.family == "mewma-t2"
    assert man.postprocess["params"]["on"] == pytest.approx(det.threshold_)
    assert man.postprocess["params"]["off"] == pytest.approx(det.hysteresis * det.threshold_)


def test_cli_train_and_eval(tmp_path: Path) -> None:
    from edgetwin.cli.pdm import app

    for i in range(3):
        _write_csv(_run(tmp_path / "train" / f"{i}.csv", i, shift=3.0))
    for i in range(2):
        _write_csv(_run(tmp_path / "held" / f"{i}.csv", 10 + i, shift=3.0))
    out = tmp_path / "det.zip"
    runner = CliRunner()
    res = runner.invoke(
        app, ["train-detector", "--data", str(tmp_path / "train"), "--out", str(out), "--no-int8"]
    )
    assert res.exit_code == 0, res.output
    assert "F1" in res.output and out.is_file()
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    v = manifest["verification"]["skab_train_runs"]
    assert v["runs"] == 3 and 0.0 <= v["far"] <= 1.0 and v["f1"] > 0.8
    res = runner.invoke(
        app, ["eval-detector", "--model", str(out), "--data", str(tmp_path / "held")]
    )
    assert res.exit_code == 0, res.output
    assert "NAB" in res.output and "MAR" in res.output
    line = next(
        ln
        for ln in res.output.splitlines()
        if ln.count("│") > 2 and ln.split("│")[1].strip() == "all"
    )
    f1 = float(line.split("│")[2])
    assert f1 > 0.8


def test_unlabelled_data_from_another_operating_point_is_left_out(tmp_path: Path) -> None:
    from edgetwin.pdm.detect.module import fit_detector, training_segments

    runs = [_run(tmp_path / "v" / f"{i}.csv", i, shift=3.0) for i in range(3)]
    rng = np.random.default_rng(9)
    ts = runs[0].ts[:800]
    near = SkabRun(
        path=tmp_path / "free" / "a.csv",
        ts=ts,
        values=rng.normal(size=(800, 8)) + np.arange(8),
        anomaly=None,
        changepoint=None,
    )
    far = SkabRun(
        path=tmp_path / "free" / "b.csv",
        ts=ts,
        values=rng.normal(size=(800, 8)) + 50.0,
        anomaly=None,
        changepoint=None,
    )
    segs = training_segments([near, far, *runs])
    assert len(segs) == 2 + 3  # the 'near' file's two 400-row segments + 3 runs' first rows
    assert len(training_segments([near, far, *runs], match_operating_point=False)) == 7
    assert fit_detector([far, *runs]).n_segments_ == 3
