"""CWRU bearing data (12 kHz drive end): file-name labels, .mat loading, 1-second windows.

Labels come from the CWRU file names, in either the mirror's form
`12k_Drive_End_<IR|B|OR><size>[@<pos>]_<load>_<no>.mat` / `normal_<load>_<no>.mat`, or the data
center's bare numbers (`105.mat`), looked up in the data center's 12 kHz drive-end table. Any path
works; a file that is not CWRU-shaped raises `DataError` naming the file and what was expected.
The motor speed is read from the file (`X<nnn>RPM`); files that lack it fall back to the nominal
speed of their load, with a warning.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from edgetwin.core.errors import DataError

log = logging.getLogger(__name__)

RATE_HZ = 12000.0
CLASSES: tuple[str, ...] = ("normal", "inner_race", "ball", "outer_race")
NOMINAL_RPM: dict[int, float] = {0: 1797.0, 1: 1772.0, 2: 1750.0, 3: 1730.0}
_FAULT_CODES = {"IR": "inner_race", "B": "ball", "OR": "outer_race"}

_MIRROR = re.compile(
    r"^(?:12k_Drive_End_)?(?P<code>IR|B|OR)(?P<size>\d{3})(?:@(?P<pos>\d+))?_(?P<load>\d)_(?P<no>\d+)$",
    re.IGNORECASE,
)
_NORMAL = re.compile(r"^normal_(?P<load>\d)_(?P<no>\d+)$", re.IGNORECASE)
# Data-center numbers of the 12 kHz drive-end table: number -> (fault code, size mils, load hp).
_NUMBERS: dict[int, tuple[str, int, int]] = {97 + i: ("N", 0, i) for i in range(4)}
for _code, _size, _first in (
    ("IR", 7, 105), ("B", 7, 118), ("OR", 7, 130), ("IR", 14, 169), ("B", 14, 185),
    ("OR", 14, 197), ("IR", 21, 209), ("B", 21, 222), ("OR", 21, 234),
):  # fmt: skip
    _NUMBERS.update({_first + i: (_code, _size, i) for i in range(4)})


@dataclass(frozen=True)
class CwruFile:
    """What a CWRU file name says: label, fault size (inch, 0 for normal), load (hp), number."""

    path: Path
    label: str
    size_in: float
    load_hp: int
    number: int

    @property
    def bearing(self) -> str:
        """The physical test bearing: one per (label, size); the normal bearing is one bearing."""
        return self.label if self.label == "normal" else f"{self.label}_{self.size_in:.3f}"


@dataclass
class CwruRecord:
    """A loaded drive-end channel: `signal` in g at `rate_hz`, `rpm` as measured."""

    meta: CwruFile
    signal: NDArray[np.float64]
    rpm: float
    rate_hz: float = RATE_HZ
    notes: list[str] = field(default_factory=list)

    @property
    def shaft_hz(self) -> float:
        return self.rpm / 60.0


def parse_name(path: str | Path) -> CwruFile:
    """Label a CWRU file from its name; `DataError` if the name is not a CWRU 12 kHz DE name."""
    p = Path(path)
    stem = p.stem
    if m := _NORMAL.match(stem):
        return CwruFile(p, "normal", 0.0, int(m["load"]), int(m["no"]))
    if m := _MIRROR.match(stem):
        return CwruFile(
            p, _FAULT_CODES[m["code"].upper()], int(m["size"]) / 1000, int(m["load"]), int(m["no"])
        )
    if stem.isdigit() and int(stem) in _NUMBERS:
        code, size, load = _NUMBERS[int(stem)]
        label = "normal" if code == "N" else _FAULT_CODES[code]
        return CwruFile(p, label, size / 1000, load, int(stem))
    raise DataError(
        f"{p}: cannot tell the fault from the file name; expected a CWRU 12 kHz drive-end name "
        "like '12k_Drive_End_IR007_1_106.mat', 'normal_0_97.mat' or a data-center number like "
        "'105.mat'"
    )


def _pick(keys: Sequence[str], suffix: str, number: int) -> str | None:
    found = [k for k in keys if k.endswith(suffix)]
    if not found:
        return None
    exact = [k for k in found if k == f"X{number:03d}{suffix}"]
    return exact[0] if exact else sorted(found)[0]


def load_file(path: str | Path) -> CwruRecord:
    """Load the drive-end accelerometer and the motor speed of one CWRU .mat file."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    meta = parse_name(path)
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file (expected a CWRU .mat file)")
    try:
        mat = loadmat(str(p))
    except (MatReadError, ValueError, OSError, TypeError) as exc:
        raise DataError(f"{p}: not a readable MATLAB v5 .mat file ({exc})") from exc
    keys = [k for k in mat if not k.startswith("__")]
    de = _pick(keys, "_DE_time", meta.number)
    if de is None:
        raise DataError(
            f"{p}: no drive-end channel; expected a variable named like "
            f"'X{meta.number:03d}_DE_time', found {sorted(keys)}"
        )
    signal = np.asarray(mat[de], dtype=np.float64).ravel()
    if signal.size < int(RATE_HZ) or not np.all(np.isfinite(signal)):
        raise DataError(
            f"{p}: '{de}' has {signal.size} samples or non-finite values; expected at least "
            f"{int(RATE_HZ)} finite samples (1 s at 12 kHz)"
        )
    notes: list[str] = []
    rpm_key = _pick(keys, "RPM", meta.number)
    rpm = float(np.asarray(mat[rpm_key]).ravel()[0]) if rpm_key else float("nan")
    if not (np.isfinite(rpm) and 600.0 < rpm < 6000.0):
        rpm = NOMINAL_RPM.get(meta.load_hp, 1772.0)
        notes.append(f"rpm missing or implausible; nominal {rpm} rpm for {meta.load_hp} hp used")
        log.warning("%s: %s", p, notes[-1])
    return CwruRecord(meta, signal, rpm, RATE_HZ, notes)


def find_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders to the .mat files in them (sorted); files pass through unchanged."""
    out: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower() == ".mat")
        elif p.exists():
            out.append(p)
        else:
            raise DataError(f"{p}: no such file or folder (expected CWRU .mat files)")
    if not out:
        raise DataError(f"no .mat files found in {[str(p) for p in paths]}")
    return out


def load_records(paths: Iterable[str | Path]) -> list[CwruRecord]:
    """Load every CWRU .mat file in `paths` (files or folders)."""
    return [load_file(p) for p in find_files(paths)]


def window_starts(n_samples: int, window: int, hop: int) -> NDArray[np.int64]:
    """Start indices of full windows of `window` samples every `hop` samples."""
    if n_samples < window:
        return np.zeros(0, dtype=np.int64)
    return np.arange(0, n_samples - window + 1, hop, dtype=np.int64)


def windows(
    signal: NDArray[np.float64], window: int = int(RATE_HZ), hop: int | None = None
) -> NDArray[np.float64]:
    """[n_windows, window] view of `signal`; hop defaults to the window (no overlap)."""
    starts = window_starts(signal.size, window, hop or window)
    return (
        np.stack([signal[s : s + window] for s in starts]) if starts.size else np.zeros((0, window))
    )
