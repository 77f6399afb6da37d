"""SKAB's evaluation protocol over a set of runs: outlier F1/FAR/MAR and changepoint NAB.

Per run the detector is calibrated on the first 400 rows and flags every row; as in the
SKAB notebooks the outlier scores are counted over whole runs (the 400 calibration rows
included) and summed over runs. We also report the counts over the rows after the
calibration rows only (``test_only``), the stricter reading. Predicted changepoints are
``|diff(flags)|`` (SKAB's rule); NAB uses a ``window_s`` window at each true changepoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edgetwin.core.errors import DataError
from edgetwin.pdm.datasets.skab import SKAB_TRAIN_ROWS, SkabRun
from edgetwin.pdm.detect_metrics import (
    BinaryScores,
    WindowPlacement,
    binary_scores,
    changepoints_from_outliers,
    nab_scores,
)

#: NAB window settings we use (see docs/pdm_detection.md for why): 60 s after each changepoint.
NAB_WINDOW_S = 60.0
NAB_PLACEMENT: WindowPlacement = "righter"


@dataclass(frozen=True)
class SkabEvaluation:
    """Scores of one detector over a set of labelled runs."""

    whole: BinaryScores
    test_only: BinaryScores
    nab: dict[str, float]
    runs: int
    rows: int
    per_run_f1: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, float | int]:
        """Flat dict for manifests and reports (rates as fractions, NAB in points)."""
        return {
            "f1": round(self.whole.f1, 4),
            "far": round(self.whole.far, 4),
            "mar": round(self.whole.mar, 4),
            "f1_test_rows": round(self.test_only.f1, 4),
            "far_test_rows": round(self.test_only.far, 4),
            "mar_test_rows": round(self.test_only.mar, 4),
            "nab_standard": round(self.nab["standard"], 2),
            "nab_low_fp": round(self.nab["low_fp"], 2),
            "nab_low_fn": round(self.nab["low_fn"], 2),
            "runs": self.runs,
            "rows": self.rows,
        }


def evaluate_flags(
    runs: Sequence[SkabRun],
    flags: Sequence[np.ndarray],
    *,
    calibration_rows: int = SKAB_TRAIN_ROWS,
    window_s: float = NAB_WINDOW_S,
    placement: WindowPlacement = NAB_PLACEMENT,
) -> SkabEvaluation:
    """Score 0/1 flags (one array per run) against the runs' labels."""
    labelled = [r for r in runs if r.anomaly is not None and r.changepoint is not None]
    if len(labelled) != len(runs):
        raise DataError("evaluation needs labelled runs (columns 'anomaly' and 'changepoint')")
    true = [r.anomaly for r in labelled]
    whole = binary_scores(true, flags)  # type: ignore[arg-type]
    test = binary_scores(
        [t[calibration_rows:] for t in true],  # type: ignore[index]
        [np.asarray(f)[calibration_rows:] for f in flags],
    )
    t_s = [(r.ts - r.ts[0]).astype("timedelta64[s]").astype(np.float64) for r in labelled]
    nab = nab_scores(
        t_s,
        [r.changepoint for r in labelled],  # type: ignore[misc]
        [changepoints_from_outliers(f) for f in flags],
        window_s=window_s,
        placement=placement,
    )
    per_run = {
        r.name: binary_scores([r.anomaly], [f]).f1  # type: ignore[list-item]
        for r, f in zip(labelled, flags, strict=True)
    }
    return SkabEvaluation(
        whole=whole,
        test_only=test,
        nab=nab,
        runs=len(runs),
        rows=sum(len(r) for r in runs),
        per_run_f1=per_run,
    )
