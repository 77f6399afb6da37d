"""C-MAPSS loader: real files parse to the documented shapes; bad files name the file and line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgetwin.core.errors import DataError
from edgetwin.pdm.datasets.cmapss import load_runs, load_truth


def _row(unit: int, cycle: int) -> str:
    return f"{unit} {cycle} " + " ".join(["0.5"] * 24) + "  \n"


def test_wrong_column_count_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "train_bad.txt"
    f.write_text(_row(1, 1) + _row(1, 2) + "1 3 0.1 0.2\n")
    with pytest.raises(DataError) as err:
        load_runs(f)
    msg = str(err.value)
    assert f"{f}:3" in msg and "found 4 columns, expected 26" in msg


def test_non_number_names_column(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text(_row(1, 1) + _row(1, 2).replace("0.5", "abc", 1))
    with pytest.raises(DataError, match=r"t.txt:2: column 3 is 'abc', expected a number"):
        load_runs(f)


def test_broken_cycle_sequence(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text(_row(1, 1) + _row(1, 2) + _row(1, 4))
    with pytest.raises(DataError, match=r"t.txt:3: unit 1 cycle 4 breaks the sequence"):
        load_runs(f)


def test_missing_file_and_truth_count(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such C-MAPSS file"):
        load_runs(tmp_path / "nope.txt")
    t = tmp_path / "RUL.txt"
    t.write_text("112 \n98 \n")
    assert load_truth(t).tolist() == [112.0, 98.0]
    with pytest.raises(DataError, match="holds 2 RUL values, expected 3"):
        load_truth(t, n_units=3)
    t.write_text("112 \n-4\n")
    with pytest.raises(DataError, match=r"RUL.txt:2: RUL '-4' must be a non-negative integer"):
        load_truth(t)


def test_engines_and_train_rul(tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text(_row(1, 1) + _row(1, 2) + _row(1, 3) + _row(2, 1) + _row(2, 2))
    runs = load_runs(f)
    assert runs.features.shape == (5, 24)
    assert runs.units.tolist() == [1, 2]
    assert [s.stop - s.start for s in runs.engine_slices()] == [3, 2]
    assert runs.rul_train().tolist() == [2, 1, 0, 1, 0]


def test_real_fd001(shared_data) -> None:
    root = shared_data("cmapss")
    train = load_runs(root / "train_FD001.txt")
    assert train.features.shape == (20631, 24)
    assert len(train.units) == 100
    lives = np.array([s.stop - s.start for s in train.engine_slices()])
    assert lives.min() == 128 and lives.max() == 362
    test = load_runs(root / "test_FD001.txt")
    truth = load_truth(root / "RUL_FD001.txt", n_units=len(test.units))
    assert truth.min() == 7 and truth.max() == 145
