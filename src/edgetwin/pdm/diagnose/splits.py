"""The three CWRU evaluation protocols, shared by `edgetwin pdm bench-diagnosis` and the bench.

- `random`: 1-second windows of every file shuffled into train/test. Windows of one recording
  (and overlapping windows) land on both sides, so it leaks; kept only for comparison with the
  many papers that report it.
- `load`: leave one motor load out. Train on the faults at the other loads, test on the faults at
  the held-out load.
- `bearing`: leave one fault size out (Hendriks et al. 2022). Each fault size is a different
  physical bearing, so the model is tested on bearings it never saw.

The healthy class: CWRU has a normal baseline at 0 hp only, recorded on one healthy bearing. In
the `load` and `bearing` splits a normal recording is cut into as many contiguous time blocks as
there are folds; fold k tests on block k and trains on the others, so no test sample (nor any
window overlapping it) was seen in training. When normal recordings exist at several loads
(and the split is `load`), they follow their load like the fault files instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from edgetwin.core.errors import ConfigError, DataError
from edgetwin.pdm.datasets.cwru import CwruRecord, window_starts

SPLITS: tuple[str, ...] = ("random", "load", "bearing")


@dataclass(frozen=True)
class WindowRef:
    """One window: record index into the record list, first sample, label."""

    record: int
    start: int
    label: str


@dataclass
class Fold:
    """One train/test partition of a split."""

    name: str
    train: list[WindowRef]
    test: list[WindowRef]


def record_windows(
    records: Sequence[CwruRecord],
    index: int,
    window: int,
    hop: int,
    lo: int = 0,
    hi: int | None = None,
) -> list[WindowRef]:
    """Windows of record `index` lying entirely inside samples [lo, hi)."""
    rec = records[index]
    hi = rec.signal.size if hi is None else hi
    return [
        WindowRef(index, lo + int(s), rec.meta.label) for s in window_starts(hi - lo, window, hop)
    ]


def _blocks(n_samples: int, k: int) -> NDArray[np.int64]:
    return np.linspace(0, n_samples, k + 1).astype(np.int64)


def _grouped(
    records: Sequence[CwruRecord], key: str, window: int, hop: int, split: str
) -> list[Fold]:
    faults = [i for i, r in enumerate(records) if r.meta.label != "normal"]
    normals = [i for i, r in enumerate(records) if r.meta.label == "normal"]
    keys = sorted({getattr(records[i].meta, key) for i in faults})
    if len(keys) < 2:
        raise DataError(
            f"split {split!r} needs fault files at >= 2 different {key} values, found {keys}: "
            "give more CWRU files"
        )
    normal_loads = {records[i].meta.load_hp for i in normals}
    by_key = key == "load_hp" and len(normal_loads) > 1
    folds = []
    for k, value in enumerate(keys):
        train: list[WindowRef] = []
        test: list[WindowRef] = []
        for i in faults:
            side = test if getattr(records[i].meta, key) == value else train
            side += record_windows(records, i, window, hop)
        for i in normals:
            if by_key:
                side = test if records[i].meta.load_hp == value else train
                side += record_windows(records, i, window, hop)
                continue
            edges = _blocks(records[i].signal.size, len(keys))
            for b in range(len(keys)):
                side = test if b == k else train
                side += record_windows(records, i, window, hop, int(edges[b]), int(edges[b + 1]))
        label = f"{value:.3f} in" if key == "size_in" else f"{value} hp"
        folds.append(Fold(f"test {label}", train, test))
    return folds


def make_folds(
    records: Sequence[CwruRecord],
    split: str,
    *,
    window: int = 12000,
    hop: int = 6000,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> list[Fold]:
    """Folds of `split` ("random", "load" or "bearing") over `records`; windows of `window`
    samples every `hop` samples."""
    if split == "random":
        refs = [w for i in range(len(records)) for w in record_windows(records, i, window, hop)]
        order = np.random.default_rng(seed).permutation(len(refs))
        n_test = max(1, int(round(test_fraction * len(refs))))
        test = sorted(order[:n_test].tolist())
        train = sorted(order[n_test:].tolist())
        return [Fold("random 80/20", [refs[j] for j in train], [refs[j] for j in test])]
    if split == "load":
        return _grouped(records, "load_hp", window, hop, split)
    if split == "bearing":
        return _grouped(records, "size_in", window, hop, split)
    raise ConfigError(f"split={split!r}: choose one of {', '.join(SPLITS)}")


def feasible_splits(
    records: Sequence[CwruRecord], splits: Sequence[str]
) -> tuple[list[str], dict[str, str]]:
    """The protocols of `splits` these files allow, and why each other one cannot run.

    Held-out acceptance may hand over one load only (CWRU 3 hp, no normal file): the load split
    then has nothing to leave out. Benches and `train-diagnosis` run what the files allow and
    name the rest, instead of failing after the work of the other splits."""
    ok: list[str] = []
    skipped: dict[str, str] = {}
    for split in splits:
        try:
            make_folds(records, split)
        except DataError as exc:
            skipped[split] = str(exc)
            continue
        ok.append(split)
    return ok, skipped
