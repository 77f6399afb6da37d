"""Tennessee Eastman Process (Braatz data set) ``dNN.dat`` / ``dNN_te.dat`` files.

Each row is one observation (every 3 minutes) of 52 variables: XMEAS(1..41) then XMV(1..11).
``d00.dat`` (normal training) is stored transposed, 52 rows x 500 columns; every other file
is rows x 52. In test files ``dNN_te.dat`` the fault starts after 8 h, i.e. rows 161..960
(1-based) are faulty; ``d00_te.dat`` is all normal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgetwin.core.errors import DataError

N_VARIABLES = 52
#: 0-based index of the first faulty row of a ``dNN_te.dat`` test file (row 161, 1-based).
TEST_FAULT_START = 160
VARIABLE_NAMES = tuple([f"xmeas_{i}" for i in range(1, 42)] + [f"xmv_{i}" for i in range(1, 12)])
_NAME = re.compile(r"^d(\d\d)(_te)?\.dat$")


@dataclass(frozen=True)
class TepRun:
    """One TEP file: ``values`` [rows, 52] float64 and the row-wise fault label (0/1, int8)."""

    path: Path
    fault: int
    test: bool
    values: np.ndarray
    label: np.ndarray


def _parse(path: Path) -> np.ndarray:
    try:
        lines = path.read_text(encoding="ascii").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read TEP file ({exc})") from None
    rows: list[list[float]] = []
    width: int | None = None
    for lineno, line in enumerate(lines, start=1):
        toks = line.split()
        if not toks:
            continue
        if width is None:
            width = len(toks)
        elif len(toks) != width:
            raise DataError(
                f"{path}:{lineno}: {len(toks)} numbers, expected {width} like the first line"
            )
        try:
            rows.append([float(t) for t in toks])
        except ValueError:
            bad = next(t for t in toks if not _is_float(t))
            raise DataError(
                f"{path}:{lineno}: {bad!r} is not a number, expected whitespace-separated numbers"
            ) from None
    if not rows:
        raise DataError(f"{path}: empty file, expected rows of {N_VARIABLES} numbers")
    return np.asarray(rows, dtype=np.float64)


def _is_float(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def load_tep_file(
    path: str | Path, *, fault: int | None = None, test: bool | None = None
) -> TepRun:
    """Parse one TEP file, fixing the transposed ``d00.dat`` layout.

    ``fault`` and ``test`` come from the name (``d05_te.dat`` -> fault 5, test) unless given.
    The label marks faulty rows: all rows of a fault training file, rows from
    ``TEST_FAULT_START`` of a fault test file, none of a normal file.
    """
    path = Path(path)
    m = _NAME.match(path.name)
    if m is None and (fault is None or test is None):
        raise DataError(
            f"{path}: cannot tell fault and split from the name, expected 'dNN.dat' or "
            "'dNN_te.dat' (or pass fault= and test=)"
        )
    fault = int(m.group(1)) if fault is None and m else fault
    test = bool(m.group(2)) if test is None and m else test
    assert fault is not None and test is not None
    arr = _parse(path)
    if arr.shape[1] != N_VARIABLES and arr.shape[0] == N_VARIABLES:
        arr = arr.T.copy()  # d00.dat is stored 52 x 500
    if arr.shape[1] != N_VARIABLES:
        raise DataError(
            f"{path}:1: {arr.shape[1]} columns, expected {N_VARIABLES} (XMEAS 1-41, XMV 1-11)"
        )
    if not np.all(np.isfinite(arr)):
        bad = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise DataError(f"{path}: observation {bad + 1} has a non-finite value")
    label = np.zeros(arr.shape[0], dtype=np.int8)
    if fault != 0:
        label[TEST_FAULT_START if test else 0 :] = 1
    return TepRun(path=path, fault=fault, test=test, values=arr, label=label)


def load_tep(folder: str | Path, fault: int, *, test: bool) -> TepRun:
    """Load ``dNN.dat`` or ``dNN_te.dat`` for one fault from a folder."""
    folder = Path(folder)
    path = folder / f"d{fault:02d}{'_te' if test else ''}.dat"
    if not path.is_file():
        raise DataError(f"{path}: missing, expected the Braatz TEP file for fault {fault}")
    return load_tep_file(path)
