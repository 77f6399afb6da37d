"""SKAB CSV loader: real files parse to the documented shapes, malformed files fail clearly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgetwin.core.errors import DataError
from edgetwin.pdm.datasets.skab import SENSOR_COLUMNS, load_skab, load_skab_file, skab_files

HEADER = "datetime;" + ";".join(SENSOR_COLUMNS) + ";anomaly;changepoint"
ROW = "2020-03-09 10:14:{s:02d};0.02;0.04;1.3;0.05;79.3;26.0;233.0;32.0;{a};{c}"


def _write(tmp_path: Path, lines: list[str], name: str = "0.csv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_small_labelled_file_parses(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        [HEADER] + [ROW.format(s=i, a="1.0" if i > 2 else "0.0", c="0.0") for i in range(5)],
    )
    run = load_skab_file(p)
    assert run.values.shape == (5, 8)
    assert run.values[0, 7] == 32.0
    np.testing.assert_array_equal(run.anomaly, [0, 0, 0, 1, 1])
    assert run.ts[1] - run.ts[0] == np.timedelta64(1, "s")


def test_unlabelled_file_has_no_labels(tmp_path: Path) -> None:
    header = "datetime;" + ";".join(SENSOR_COLUMNS)
    p = _write(tmp_path, [header, "2020-02-08 13:30:47;0.2;0.27;2.1;0.38;90.6;26.8;238.8;122.6"])
    run = load_skab_file(p)
    assert run.anomaly is None and run.changepoint is None and run.values.shape == (1, 8)


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        (["datetime,Accelerometer1RMS", "x"], r"0.csv:1: header .* separator is ';'"),
        (
            [
                HEADER,
                ROW.format(s=0, a="0.0", c="0.0"),
                ROW.format(s=1, a="0.0", c="0.0").replace("79.3", "hot"),
            ],
            r"0.csv:3: column 'Temperature' is 'hot', expected a number",
        ),
        ([HEADER, "2020-03-09 10:14:00;1;2"], r"0.csv:2: 3 fields, expected 11"),
        (
            [HEADER, ROW.format(s=0, a="2.0", c="0.0")],
            r"0.csv:2: column 'anomaly' is 2.0, expected 0 or 1",
        ),
        (
            [HEADER, ROW.format(s=0, a="0.0", c="0.0").replace("2020-03-09 10:14:00", "yesterday")],
            r"0.csv:2: datetime is 'yesterday'",
        ),
        ([HEADER], r"no data rows"),
    ],
)
def test_malformed_file_names_file_line_and_expectation(
    tmp_path: Path, lines: list[str], match: str
) -> None:
    with pytest.raises(DataError, match=match):
        load_skab_file(_write(tmp_path, lines))


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        skab_files([tmp_path / "nope.csv"])
    with pytest.raises(DataError, match="holds no"):
        skab_files([tmp_path])


def test_folder_order_is_natural(tmp_path: Path) -> None:
    for name in ("10.csv", "2.csv", "1.csv"):
        _write(tmp_path, [HEADER, ROW.format(s=0, a="0.0", c="0.0")], name)
    assert [p.name for p in skab_files([tmp_path])] == ["1.csv", "2.csv", "10.csv"]


def test_real_valve1_matches_readme(shared_data) -> None:
    root = shared_data("skab")
    runs = load_skab(root / "valve1")
    assert len(runs) == 16
    assert runs[0].name == "valve1/0.csv"
    assert runs[0].values.shape == (1147, 8)
    assert int(runs[0].anomaly.sum()) == 401 and int(runs[0].changepoint.sum()) == 4
    assert sum(int(r.anomaly.sum()) for r in runs) == 6309
    free = load_skab(root / "anomaly-free" / "anomaly-free.csv")[0]
    assert free.values.shape == (9405, 8) and free.anomaly is None
