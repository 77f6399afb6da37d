"""Bench reports print for held-out data sets that have no published row or target (FD003...)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _row(subset: str, rmse: float) -> dict:
    speed = [
        {"threads": 1, "batch": "1", "fp32_us": 40.0, "int8_us": 20.0, "speedup": 2.0},
    ]
    return {
        "subset": subset,
        "seed": 0,
        "train_s": 9.0,
        "regimes": 1,
        "epochs": [1, 1],
        "oof_rmse": rmse + 1.0,
        "oof_per_repeat": [rmse + 1.0],
        "rmse": rmse,
        "score": 500.0,
        "int8_rmse": rmse * 1.01,
        "int8_score": 510.0,
        "rmse_phm": rmse,
        "score_phm": 400.0,
        "rmse_raw": rmse + 2.0,
        "score_raw": 600.0,
        "coverage": 0.9,
        "coverage_raw": 0.85,
        "coverage_target": 0.9,
        "interval_width": 50.0,
        "p50_ms": 0.1,
        "p99_ms": 0.2,
        "p50_ms_int8": 0.1,
        "p99_ms_int8": 0.2,
        "int8_speed": speed,
    }


def test_cmapss_report_copes_with_unpublished_subset(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("torch")
    from edgetwin.pdm.metrics import error_by_truth

    bench = _bench("pdm_cmapss")
    fd001_row = _row("FD001", 12.0)
    fd001_row["by_truth"] = error_by_truth([10.0, 60.0, 125.0], [12.0, 70.0, 120.0], (50.0, 100.0))
    bench.report([fd001_row, _row("FD003", 14.0)], [0], 1)  # FD003: saved before the bands
    out = capsys.readouterr().out
    fd003 = out[out.index("\nFD003") :]
    assert "no published figure for FD003" in fd003
    assert "no target for FD003 in the issue" in fd003
    assert "target (mean over seeds" not in fd003
    # FD001 keeps its published rows and the target verdict (12.0 > 11.0 -> not met)
    fd001 = out[out.index("\nFD001") : out.index("\nFD003")]
    assert "published MTSTAN" in fd001
    assert "NOT MET" in fd001
    assert "14.00 ± 0.00" in fd003
    bands = fd001[fd001.index("error by true RUL") :].splitlines()[2:5]
    assert [b.split()[:3] for b in bands] == [
        ["0-50", "1", "+2.0"],
        ["50-100", "1", "+10.0"],
        [">=", "100", "1"],
    ]
    assert "error by true RUL" not in fd003


def test_skab_bench_finds_every_run_folder(tmp_path: Path) -> None:
    bench = _bench("pdm_skab")
    for name in ("anomaly-free", "other", "valve2", "valve1", "empty"):
        (tmp_path / name).mkdir()
    for name in ("anomaly-free", "other", "valve2", "valve1"):
        (tmp_path / name / "0.csv").write_text("datetime;x\n")
    (tmp_path / "README.md").write_text("not a folder")
    assert bench.skab_folders(tmp_path) == ["valve1", "other", "valve2"]


def test_tep_bench_covers_held_out_faults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _bench("pdm_skab")
    for f in (0, 1, 2, 11, 21):
        (tmp_path / f"d{f:02d}.dat").write_text("")
        (tmp_path / f"d{f:02d}_te.dat").write_text("")
    (tmp_path / "d05.dat").write_text("")  # training file without a test file: not a fault run
    assert bench.tep_faults(tmp_path) == [1, 2, 11, 21]
    rates = {0: 0.05, 1: 0.9, 2: 0.7, 11: 0.4, 21: 0.2}
    res = {"rates": {"module": rates, "pca11_t2": rates}, "faults": [1, 2, 11, 21]}
    bench.print_tep(res)
    out = capsys.readouterr().out
    rows = {
        line.split()[0] + (" " + line.split()[1] if line.startswith("mean") else ""): line
        for line in out.splitlines()
        if line[:1].isdigit() or line.startswith("mean")
    }
    assert rows["21"].split()[1] == "0.200"
    assert rows["21"].split()[-1] == "-"  # no published figure quoted for fault 21
    assert rows["1"].split()[-2:] == ["0.992", "0.998"]
    assert rows["mean 1-10"].split()[2] == "0.800"
    assert rows["mean 11+"].split()[2] == "0.300"
    assert rows["mean all"].split()[2] == "0.550"


def test_cmapss_bench_default_subsets_are_the_files_present(tmp_path: Path) -> None:
    bench = _bench("pdm_cmapss")
    for sub in ("FD001", "FD002", "FD003", "FD004"):
        for kind in ("train", "test", "RUL"):
            (tmp_path / f"{kind}_{sub}.txt").write_text("")
    (tmp_path / "RUL_FD004.txt").unlink()  # incomplete subset: not offered
    assert bench.find_subsets(tmp_path) == ["FD001", "FD002", "FD003"]
    assert bench.find_subsets(tmp_path / "missing") == []


def test_cwru_bench_skips_splits_the_files_cannot_support(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import numpy as np

    from edgetwin.pdm.datasets.cwru import CwruFile, CwruRecord

    bench = _bench("pdm_cwru")
    # held-out CWRU: faults at 3 hp only, no normal file -> no load to leave out
    records = [
        CwruRecord(
            CwruFile(Path(f"{code}{size}_3_{no}.mat"), label, size / 1000, 3, no),
            np.zeros(36000),
            1730.0,
        )
        for no, (code, label, size) in enumerate(
            [(c, lab, s) for c, lab in (("IR", "inner_race"), ("B", "ball")) for s in (7, 14)],
            start=200,
        )
    ]
    assert bench.runnable_splits(records) == ["random", "bearing"]
    assert "load split: skipped" in capsys.readouterr().out
    two_loads = [
        *records,
        CwruRecord(
            CwruFile(Path("IR007_2_1.mat"), "inner_race", 0.007, 2, 1), np.zeros(36000), 1750.0
        ),
    ]
    assert bench.runnable_splits(two_loads) == ["random", "load", "bearing"]


def test_skab_bench_merges_holdout_with_the_shared_normal_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _bench("pdm_skab")
    shared, holdout = tmp_path / "shared", tmp_path / "holdout"
    for d in (shared / "anomaly-free", shared / "valve1", holdout / "valve2", holdout / "other"):
        d.mkdir(parents=True)
        (d / "0.csv").write_text(d.name)
    # a single complete root is used as it is
    assert bench.merge_roots([shared], ["anomaly-free"], shared, tmp_path / "v0") == shared
    assert bench.merge_roots([tmp_path / "nope"], ["anomaly-free"], shared, tmp_path / "v") is None
    # held-out root alone: its folders, plus anomaly-free from the shared copy (named)
    view = bench.merge_roots([holdout], ["anomaly-free"], shared, tmp_path / "v1")
    assert view is not None and view != holdout
    assert sorted(p.name for p in view.iterdir()) == ["anomaly-free", "other", "valve2"]
    assert (view / "anomaly-free" / "0.csv").read_text() == "anomaly-free"
    assert "anomaly-free: not under" in capsys.readouterr().out
    assert bench.skab_folders(view) == ["other", "valve2"]
    # shared + held-out: every folder once
    both = bench.merge_roots([shared, holdout], ["anomaly-free"], shared, tmp_path / "v2")
    assert both is not None
    assert bench.skab_folders(both) == ["valve1", "other", "valve2"]


def test_train_diagnosis_protocols_skip_what_one_load_cannot_support() -> None:
    import numpy as np
    from rich.console import Console

    from edgetwin.cli.pdm_diagnosis import _possible_splits
    from edgetwin.pdm.datasets.cwru import CwruFile, CwruRecord

    records = [
        CwruRecord(
            CwruFile(Path(f"{code}_3_{no}.mat"), label, size / 1000, 3, no), np.zeros(36000), 1730.0
        )
        for no, (code, label, size) in enumerate(
            [("IR007", "inner_race", 7), ("IR014", "inner_race", 14), ("B007", "ball", 7)],
            start=300,
        )
    ]
    console = Console(record=True, width=200)
    assert _possible_splits(records, ["load", "bearing"], console) == ["bearing"]
    assert "load split skipped" in console.export_text()
