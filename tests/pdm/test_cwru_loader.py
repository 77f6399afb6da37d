"""CWRU file-name labels, .mat loading and its errors; real files when the data set is here."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.io import savemat

from edgetwin.core.errors import DataError
from edgetwin.pdm.datasets.cwru import find_files, load_file, parse_name, windows


@pytest.mark.parametrize(
    ("name", "label", "size", "load", "number"),
    [
        ("12k_Drive_End_IR007_1_106.mat", "inner_race", 0.007, 1, 106),
        ("12k_Drive_End_B021_2_224.mat", "ball", 0.021, 2, 224),
        ("12k_Drive_End_OR014@6_3_200.mat", "outer_race", 0.014, 3, 200),
        ("normal_3_100.mat", "normal", 0.0, 3, 100),
        ("108.mat", "inner_race", 0.007, 3, 108),
        ("237.mat", "outer_race", 0.021, 3, 237),
        ("99.mat", "normal", 0.0, 2, 99),
    ],
)
def test_labels_come_from_the_file_name(name, label, size, load, number):
    meta = parse_name(f"/anywhere/{name}")
    assert (meta.label, meta.size_in, meta.load_hp, meta.number) == (label, size, load, number)


@settings(max_examples=60, deadline=None)
@given(
    code=st.sampled_from(["IR", "B", "OR"]),
    size=st.integers(1, 99),
    load=st.integers(0, 9),
    number=st.integers(1, 9999),
    prefix=st.sampled_from(["12k_Drive_End_", ""]),
)
def test_mirror_names_round_trip(code, size, load, number, prefix):
    pos = "@6" if code == "OR" else ""
    meta = parse_name(f"{prefix}{code}{size:03d}{pos}_{load}_{number}.mat")
    assert meta.label == {"IR": "inner_race", "B": "ball", "OR": "outer_race"}[code]
    assert meta.size_in == pytest.approx(size / 1000)
    assert (meta.load_hp, meta.number) == (load, number)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii", exclude_characters="/"), max_size=30))
def test_other_names_raise_data_error_or_parse(stem):
    try:
        meta = parse_name(f"{stem}.mat")
    except DataError as exc:
        assert "expected a CWRU 12 kHz drive-end name" in str(exc)
    else:
        assert meta.label in ("normal", "inner_race", "ball", "outer_race")


def test_unknown_name_is_refused_with_the_expected_form(tmp_path):
    with pytest.raises(DataError, match=r"pump_run\.mat.*12k_Drive_End_IR007_1_106"):
        parse_name(tmp_path / "pump_run.mat")


def test_malformed_and_wrong_files_name_the_file(tmp_path):
    garbage = tmp_path / "12k_Drive_End_IR007_0_105.mat"
    garbage.write_bytes(b"this is not a mat file" * 10)
    with pytest.raises(DataError, match=r"IR007_0_105\.mat.*MATLAB"):
        load_file(garbage)
    wrong = tmp_path / "12k_Drive_End_B007_0_118.mat"
    savemat(wrong, {"X118_FE_time": np.zeros((20000, 1)), "X118RPM": np.array([[1796]])})
    with pytest.raises(DataError, match=r"B007_0_118\.mat.*X118_DE_time"):
        load_file(wrong)
    short = tmp_path / "normal_0_97.mat"
    savemat(short, {"X097_DE_time": np.zeros((100, 1))})
    with pytest.raises(DataError, match="at least 12000"):
        load_file(short)
    with pytest.raises(DataError, match="no such file"):
        find_files([tmp_path / "missing"])


def test_missing_rpm_falls_back_to_the_nominal_speed(tmp_path):
    p = tmp_path / "12k_Drive_End_OR007@6_2_132.mat"
    sig = np.random.default_rng(0).normal(size=(30000, 1))
    savemat(p, {"X999_DE_time": sig})  # a number that does not match the file: still found
    rec = load_file(p)
    assert rec.rpm == 1750.0
    assert rec.notes and "nominal" in rec.notes[0]
    np.testing.assert_allclose(rec.signal, sig.ravel())
    w = windows(rec.signal, 12000, 6000)
    assert w.shape == (4, 12000)
    np.testing.assert_array_equal(w[1], rec.signal[6000:18000])


def test_real_cwru_files(shared_data):
    folder = shared_data("cwru")
    files = find_files([folder])
    assert len(files) >= 4
    rec = load_file(folder / "12k_Drive_End_IR007_1_106.mat")
    assert rec.meta.label == "inner_race"
    assert rec.rpm == pytest.approx(1772.0)
    assert rec.signal.size == 121991
    assert 0.01 < float(np.std(rec.signal)) < 10.0  # acceleration in g
    normal = load_file(folder / "normal_0_97.mat")
    assert normal.meta.label == "normal"
    assert normal.signal.size == 243938
