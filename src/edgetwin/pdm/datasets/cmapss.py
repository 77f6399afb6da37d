"""NASA C-MAPSS turbofan run-to-failure data: the text files as NASA ships them.

Each row is one engine (``unit``) at one cycle: 26 whitespace-separated numbers, namely
unit, cycle, operational settings 1-3 and sensors 1-21. Training files run every engine to
failure; test files stop each engine early and a separate truth file gives the remaining
useful life (in cycles) after the last test cycle, one integer per engine in unit order.

The loader validates as it parses, so a wrong or truncated file fails with the file, the line
and what was expected instead of a shape error deep inside training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgetwin.core.errors import DataError

N_COLUMNS = 26
N_SETTINGS = 3
N_SENSORS = 21
SETTING_NAMES = tuple(f"setting_{i}" for i in range(1, N_SETTINGS + 1))
SENSOR_NAMES = tuple(f"s{i}" for i in range(1, N_SENSORS + 1))
#: Names of the 24 raw measurement columns (settings then sensors), the order a live history uses.
RAW_FEATURE_NAMES = SETTING_NAMES + SENSOR_NAMES


@dataclass(frozen=True)
class CmapssRuns:
    """One C-MAPSS file: per-row engine id and cycle, and the 24 raw measurements.

    ``features`` has shape [rows, 24]: settings 1-3 then sensors 1-21, float64.
    Rows are grouped by unit with increasing cycles (validated on load).
    """

    path: Path
    unit: np.ndarray
    cycle: np.ndarray
    features: np.ndarray

    @property
    def settings(self) -> np.ndarray:
        """Operational settings, [rows, 3]."""
        return self.features[:, :N_SETTINGS]

    @property
    def units(self) -> np.ndarray:
        """Distinct engine ids in file order."""
        _, first = np.unique(self.unit, return_index=True)
        return self.unit[np.sort(first)]

    def engine_slices(self) -> list[slice]:
        """Row slice of each engine, in file order."""
        change = np.flatnonzero(np.diff(self.unit)) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [len(self.unit)]])
        return [slice(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]

    def histories(self) -> list[np.ndarray]:
        """Raw [cycles, 24] measurement history of each engine, in file order."""
        return [self.features[s] for s in self.engine_slices()]

    def rul_train(self) -> np.ndarray:
        """Per-row RUL (cycles) of a run-to-failure file: last cycle of the unit minus cycle."""
        rul = np.empty(len(self.unit), dtype=np.float64)
        for s in self.engine_slices():
            rul[s] = self.cycle[s][-1] - self.cycle[s]
        return rul


def _parse_float(token: str, path: Path, lineno: int, col: int) -> float:
    try:
        return float(token)
    except ValueError:
        raise DataError(
            f"{path}:{lineno}: column {col} is {token!r}, expected a number "
            "(C-MAPSS rows are 26 numbers: unit, cycle, 3 settings, 21 sensors)"
        ) from None


def load_runs(path: str | Path) -> CmapssRuns:
    """Read a C-MAPSS ``train_FD00x.txt`` or ``test_FD00x.txt`` file.

    Raises `DataError` naming the file and line when a row does not hold 26 numbers, when a unit
    or cycle is not a positive integer, or when cycles of a unit do not increase by one.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(
            f"{path}: no such C-MAPSS file; pass the path of train_FD00x.txt or test_FD00x.txt"
        )
    rows: list[list[float]] = []
    with path.open("r", encoding="ascii", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) != N_COLUMNS:
                raise DataError(
                    f"{path}:{lineno}: found {len(tokens)} columns, expected {N_COLUMNS} "
                    "(unit, cycle, 3 settings, 21 sensors); is this a C-MAPSS train/test file?"
                )
            rows.append([_parse_float(t, path, lineno, i + 1) for i, t in enumerate(tokens)])
    if not rows:
        raise DataError(f"{path}: file is empty, expected C-MAPSS rows of {N_COLUMNS} numbers")
    arr = np.asarray(rows, dtype=np.float64)
    _check_ids(arr, path)
    return CmapssRuns(
        path=path,
        unit=arr[:, 0].astype(np.int64),
        cycle=arr[:, 1].astype(np.int64),
        features=np.ascontiguousarray(arr[:, 2:]),
    )


def _check_ids(arr: np.ndarray, path: Path) -> None:
    unit, cycle = arr[:, 0], arr[:, 1]
    bad = np.flatnonzero(
        (unit != np.round(unit)) | (unit < 1) | (cycle != np.round(cycle)) | (cycle < 1)
    )
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{path}:{i + 1}: unit {unit[i]!r} / cycle {cycle[i]!r} must be positive integers"
        )
    same = unit[1:] == unit[:-1]
    step_ok = np.where(same, cycle[1:] == cycle[:-1] + 1, cycle[1:] == 1)
    bad = np.flatnonzero(~step_ok)
    if bad.size:
        i = int(bad[0]) + 1
        raise DataError(
            f"{path}:{i + 1}: unit {int(unit[i])} cycle {int(cycle[i])} breaks the sequence; "
            "expected the next cycle of the same unit, or cycle 1 of a new unit"
        )
    if cycle[0] != 1:
        raise DataError(f"{path}:1: first row has cycle {int(cycle[0])}, expected cycle 1")


def load_truth(path: str | Path, n_units: int | None = None) -> np.ndarray:
    """Read ``RUL_FD00x.txt``: true RUL (cycles) after the last test cycle, one per engine.

    ``n_units`` (the number of test engines) is checked when given, so a truth file of another
    subset is caught instead of silently mis-scoring.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such RUL truth file; pass the path of RUL_FD00x.txt")
    values: list[float] = []
    with path.open("r", encoding="ascii", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            tokens = line.split()
            if not tokens:
                continue
            if len(tokens) != 1:
                raise DataError(
                    f"{path}:{lineno}: found {len(tokens)} values, expected 1 (true RUL of one engine)"
                )
            v = _parse_float(tokens[0], path, lineno, 1)
            if v < 0 or v != round(v):
                raise DataError(
                    f"{path}:{lineno}: RUL {tokens[0]!r} must be a non-negative integer"
                )
            values.append(v)
    if n_units is not None and len(values) != n_units:
        raise DataError(
            f"{path}: holds {len(values)} RUL values, expected {n_units} (one per test engine); "
            "does the truth file belong to this test file?"
        )
    return np.asarray(values, dtype=np.float64)
