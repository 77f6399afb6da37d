"""`edgetwin pdm train-diagnosis / eval-diagnosis / bench-diagnosis` on a few real CWRU files."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from edgetwin.cli.pdm import app
from edgetwin.core.errors import DataError
from edgetwin.edge import read_manifest

runner = CliRunner()


def _files(folder, loads):
    nums = {"IR": (105, 106, 107), "B": (118, 119, 120), "OR": (130, 131, 132)}
    out = []
    for code, ns in nums.items():
        pos = "@6" if code == "OR" else ""
        out += [folder / f"12k_Drive_End_{code}007{pos}_{ld}_{ns[ld]}.mat" for ld in loads]
    return out


def _accuracy(output: str) -> float:
    return float(re.findall(r"accuracy ([0-9.]+) %", output)[-1])


def test_train_then_eval_on_another_load(shared_data, tmp_path):
    folder = shared_data("cwru")
    args = ["train-diagnosis", "--out", str(tmp_path / "diag.zip"), "--no-protocols"]
    for f in _files(folder, (0, 1)):
        args += ["--data", str(f)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert _accuracy(res.output) > 95.0
    manifest = read_manifest(tmp_path / "diag.zip")
    assert manifest.verification["training_windows"]["n"] == 6 * 19
    assert manifest.verification["latency_ms_per_1s_window_p50"] > 0
    assert 0 < manifest.verification["cpu_ms_per_1s_window_p50"] < 1000
    args = ["eval-diagnosis", "--model", str(tmp_path / "diag.zip"), "--hop-s", "1.0"]
    for f in _files(folder, (2,)):
        args += ["--data", str(f)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "30 windows" in res.output
    assert _accuracy(res.output) >= 90.0


def test_bench_load_split(shared_data):
    folder = shared_data("cwru")
    args = ["bench-diagnosis", "--split", "load", "--data", str(folder / "normal_0_97.mat")]
    for f in _files(folder, (0, 1, 2)):
        args += ["--data", str(f)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "test 2 hp" in res.output
    assert _accuracy(res.output) >= 90.0
    # confusion rows and columns in CLASSES order: the normal row's first cell is "normal"
    header = re.search(r"predicted\s*┃\s*(\w+)\s*┃\s*(\w+)\s*┃\s*(\w+)\s*┃\s*(\w+)", res.output)
    assert header is not None and header.groups() == ("normal", "inner_race", "ball", "outer_race")
    row = re.search(r"│\s*normal\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)\s*│\s*(\d+)", res.output)
    assert row is not None
    cells = [int(v) for v in row.groups()]
    # 36 normal windows (3 blocks of 12); the family-layout features call 2 of them "ball" here
    assert sum(cells) == 36 and cells[0] >= 33, cells


def test_wrong_file_is_named(tmp_path):
    bad = tmp_path / "vibration.mat"
    bad.write_bytes(b"x")
    res = runner.invoke(app, ["bench-diagnosis", "--split", "load", "--data", str(bad)])
    assert res.exit_code != 0
    assert isinstance(res.exception, DataError)
    assert "vibration.mat" in str(res.exception)


@pytest.mark.parametrize("split", ["sideways"])
def test_unknown_split_is_refused(shared_data, split):
    folder = shared_data("cwru")
    res = runner.invoke(
        app, ["bench-diagnosis", "--split", split, "--data", str(folder / "normal_0_97.mat")]
    )
    assert res.exit_code != 0
