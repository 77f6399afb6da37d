"""The CWRU split protocols: no test window is seen in training, groups are held out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgetwin.core.errors import ConfigError, DataError
from edgetwin.pdm.datasets.cwru import CwruRecord, parse_name
from edgetwin.pdm.diagnose.splits import make_folds

W, HOP = 1200, 600


def _records() -> list[CwruRecord]:
    names = ["normal_0_97.mat"] + [
        f"12k_Drive_End_{c}{s:03d}{'@6' if c == 'OR' else ''}_{load}_1.mat"
        for c in ("IR", "B", "OR")
        for s in (7, 14, 21)
        for load in (0, 1, 2)
    ]
    rng = np.random.default_rng(0)
    return [
        CwruRecord(
            parse_name(Path(n)), rng.normal(size=24000 if n.startswith("normal") else 12000), 1772.0
        )
        for n in names
    ]


def _span(ref) -> set[int]:
    return set(range(ref.start, ref.start + W))


def _no_overlap(fold) -> None:
    seen: dict[int, set[int]] = {}
    for r in fold.train:
        seen.setdefault(r.record, set()).update(_span(r))
    for r in fold.test:
        assert not (_span(r) & seen.get(r.record, set())), (fold.name, r)


@pytest.mark.parametrize(("split", "attr"), [("load", "load_hp"), ("bearing", "size_in")])
def test_grouped_splits_hold_out_one_group(split, attr):
    recs = _records()
    folds = make_folds(recs, split, window=W, hop=HOP)
    assert len(folds) == 3
    for fold in folds:
        _no_overlap(fold)
        held = {getattr(recs[r.record].meta, attr) for r in fold.test if r.label != "normal"}
        trained = {getattr(recs[r.record].meta, attr) for r in fold.train if r.label != "normal"}
        assert len(held) == 1 and not (held & trained)
        assert {r.label for r in fold.test} == {"normal", "inner_race", "ball", "outer_race"}
        # the normal recording is cut into 3 blocks of 8000 samples: 12 windows of 1200 each
        assert sum(r.label == "normal" for r in fold.test) == 12
        assert sum(r.label == "normal" for r in fold.train) == 24
    tested_normal = [r.start for f in folds for r in f.test if r.label == "normal"]
    assert len(set(tested_normal)) == len(tested_normal) == 36


def test_random_split_is_seeded_and_complete():
    recs = _records()
    a = make_folds(recs, "random", window=W, hop=HOP, seed=3)[0]
    b = make_folds(recs, "random", window=W, hop=HOP, seed=3)[0]
    assert a.test == b.test
    total = 27 * 19 + 39
    assert len(a.train) + len(a.test) == total
    assert len(a.test) == round(0.2 * total)


def test_bad_split_requests():
    with pytest.raises(ConfigError, match="bearing"):
        make_folds(_records(), "time")
    one_load = [r for r in _records() if r.meta.load_hp == 0]
    with pytest.raises(DataError, match="load_hp"):
        make_folds(one_load, "load")
