"""SKAB (Skoltech Anomaly Benchmark) CSV files: one run of the water-pump testbed per file.

A file is ``;``-separated with a header: ``datetime`` (``YYYY-MM-DD hh:mm:ss``, one row per
second), eight sensor columns (vibration RMS in g, motor current A, loop pressure bar, motor and
fluid temperatures degC, motor voltage V, flow L/min) and, except in ``anomaly-free.csv``, the
point labels ``anomaly`` and ``changepoint`` (0/1, stored as floats).

The loader validates while it parses, so a malformed file fails naming the file, the line and
what was expected, instead of a shape error deep inside a detector.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgetwin.core.errors import DataError

#: Sensor columns in the order SKAB ships them.
SENSOR_COLUMNS = (
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
)
LABEL_COLUMNS = ("anomaly", "changepoint")
#: Rows at the start of each run that the SKAB protocol treats as anomaly-free training data.
SKAB_TRAIN_ROWS = 400


@dataclass(frozen=True)
class SkabRun:
    """One SKAB file.

    ``values`` is [rows, 8] float64 in ``SENSOR_COLUMNS`` order; ``ts`` is datetime64[s];
    ``anomaly`` / ``changepoint`` are int8 0/1 arrays, or None for an unlabelled file.
    """

    path: Path
    ts: np.ndarray
    values: np.ndarray
    anomaly: np.ndarray | None
    changepoint: np.ndarray | None

    @property
    def name(self) -> str:
        """``folder/file`` (e.g. ``valve1/3.csv``), enough to tell runs apart in a report."""
        return f"{self.path.parent.name}/{self.path.name}"

    def __len__(self) -> int:
        return int(self.values.shape[0])


def _number(token: str, path: Path, lineno: int, column: str) -> float:
    try:
        return float(token)
    except ValueError:
        raise DataError(
            f"{path}:{lineno}: column {column!r} is {token!r}, expected a number"
        ) from None


def load_skab_file(path: str | Path) -> SkabRun:
    """Parse one SKAB CSV file; raise `DataError` naming file, line and expectation."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read SKAB CSV ({exc})") from None
    lines = text.splitlines()
    if not lines:
        raise DataError(
            f"{path}:1: file is empty, expected a header 'datetime;{SENSOR_COLUMNS[0]};...'"
        )
    header = [h.strip() for h in lines[0].split(";")]
    expected = ["datetime", *SENSOR_COLUMNS]
    if header[: len(expected)] != expected:
        raise DataError(
            f"{path}:1: header is {header!r}, expected ';'-separated columns starting "
            f"{expected!r} (a SKAB file; the separator is ';')"
        )
    extra = header[len(expected) :]
    if extra not in ([], list(LABEL_COLUMNS)):
        raise DataError(
            f"{path}:1: trailing columns are {extra!r}, expected none or {list(LABEL_COLUMNS)!r}"
        )
    n_cols = len(header)
    ts: list[np.datetime64] = []
    rows: list[list[float]] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split(";")
        if len(fields) != n_cols:
            raise DataError(
                f"{path}:{lineno}: {len(fields)} fields, expected {n_cols} separated by ';'"
            )
        try:
            ts.append(np.datetime64(fields[0].strip().replace(" ", "T"), "s"))
        except ValueError:
            raise DataError(
                f"{path}:{lineno}: datetime is {fields[0]!r}, expected 'YYYY-MM-DD hh:mm:ss'"
            ) from None
        rows.append([_number(tok, path, lineno, header[j + 1]) for j, tok in enumerate(fields[1:])])
    if not rows:
        raise DataError(f"{path}: no data rows after the header")
    arr = np.asarray(rows, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        bad = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise DataError(f"{path}:{bad + 2}: non-finite value, expected finite numbers")
    anomaly = changepoint = None
    if extra:
        labels = arr[:, len(SENSOR_COLUMNS) :]
        wrong = np.argwhere(~np.isin(labels, (0.0, 1.0)))
        if wrong.size:
            r, c = (int(v) for v in wrong[0])
            raise DataError(
                f"{path}:{r + 2}: column {LABEL_COLUMNS[c]!r} is {float(labels[r, c])!r}, expected 0 or 1"
            )
        anomaly = labels[:, 0].astype(np.int8)
        changepoint = labels[:, 1].astype(np.int8)
    return SkabRun(
        path=path,
        ts=np.asarray(ts, dtype="datetime64[s]"),
        values=arr[:, : len(SENSOR_COLUMNS)].copy(),
        anomaly=anomaly,
        changepoint=changepoint,
    )


def _natural_key(p: Path) -> tuple[str, list[object]]:
    parts: list[object] = [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]
    return (str(p.parent), parts)


def skab_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (searched recursively for ``*.csv``) in natural order."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(p.rglob("*.csv"), key=_natural_key)
            if not found:
                raise DataError(f"{p}: folder holds no *.csv file, expected SKAB CSV files")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(
                f"{p}: no such file or folder, expected a SKAB CSV file or a folder of them"
            )
    return out


def load_skab(paths: str | Path | Iterable[str | Path]) -> list[SkabRun]:
    """Load SKAB runs from files and/or folders, in natural file order."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    return [load_skab_file(p) for p in skab_files(paths)]
