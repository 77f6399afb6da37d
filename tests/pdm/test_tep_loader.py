"""TEP loader: the transposed d00.dat, fault labels, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgetwin.core.errors import DataError
from edgetwin.pdm.datasets.tep import TEST_FAULT_START, load_tep, load_tep_file


def test_transposed_normal_file_is_fixed(tmp_path: Path) -> None:
    arr = np.arange(52 * 7, dtype=float).reshape(52, 7)  # stored 52 x rows, like d00.dat
    p = tmp_path / "d00.dat"
    np.savetxt(p, arr)
    run = load_tep_file(p)
    assert run.values.shape == (7, 52)
    np.testing.assert_array_equal(run.values[:, 0], arr[0])
    assert run.fault == 0 and not run.test and run.label.sum() == 0


def test_fault_test_file_labels_from_row_161(tmp_path: Path) -> None:
    p = tmp_path / "d03_te.dat"
    np.savetxt(p, np.ones((200, 52)))
    run = load_tep_file(p)
    assert run.fault == 3 and run.test
    assert run.label[:TEST_FAULT_START].sum() == 0 and run.label[TEST_FAULT_START:].all()


def test_errors_name_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / "d01.dat"
    p.write_text("1 2 3\n1 2\n")
    with pytest.raises(DataError, match=r"d01.dat:2: 2 numbers, expected 3"):
        load_tep_file(p)
    p.write_text("1 2 x\n")
    with pytest.raises(DataError, match=r"d01.dat:1: 'x' is not a number"):
        load_tep_file(p)
    np.savetxt(p, np.ones((3, 10)))
    with pytest.raises(DataError, match="10 columns, expected 52"):
        load_tep_file(p)
    with pytest.raises(DataError, match="cannot tell fault"):
        load_tep_file(tmp_path / "weird.txt")
    with pytest.raises(DataError, match="missing"):
        load_tep(tmp_path, 7, test=True)


def test_real_files(shared_data) -> None:
    root = shared_data("tep")
    d00 = load_tep(root, 0, test=False)
    assert d00.values.shape == (500, 52)
    te = load_tep(root, 1, test=True)
    assert te.values.shape == (960, 52) and int(te.label.sum()) == 800
