"""Scores for anomaly and changepoint detection, computed as the SKAB leaderboard computes them.

Reference: the ``evaluating`` utility of SKAB (waico/SKAB notebooks, packaged as ``tsad``
0.19.4, ``tsad/utils/evaluating``); this is a numpy re-implementation of it, checked against
hand-computed cases in ``tests/pdm/test_detect_metrics.py``.

Outlier detection (``metric='binary'``): TP/TN/FP/FN are counted point-wise per run and
**summed over all runs** before the ratios are taken:
``F1 = TP / (TP + (FN + FP) / 2)``, ``FAR = FP / (FP + TN)``, ``MAR = FN / (FN + TP)``.
SKAB rounds F1 to 2 decimals and FAR/MAR (in %) to 2; we return unrounded values.

Changepoint detection (``metric='nab'``): a scoring window of ``window_s`` seconds is placed at
each true changepoint ('righter': [cp, cp + w], 'lefter': [cp - w, cp], 'center'). Predicted
changepoints (1s) inside a window: the first one is a true positive scored by SKAB's "improved"
tanh scale, ``A_tp`` at the window's left edge falling to ``A_fp`` at its right edge; later ones
in the same window cost nothing. Predictions outside every window score ``A_fp`` each; a window
without a prediction scores ``A_fn``. Per profile,
``NAB = 100 * (S - S_null) / (S_perfect - S_null)`` with ``S_null = n_cp * A_fn`` and
``S_perfect = n_cp * A_tp``, all summed over runs. Profiles (A_tp, A_fp, A_fn): standard
(1, -0.11, -1), low FP (1, -0.22, -1), low FN (1, -0.11, -2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from edgetwin.core.errors import DataError

NAB_PROFILES: dict[str, tuple[float, float, float]] = {
    "standard": (1.0, -0.11, -1.0),
    "low_fp": (1.0, -0.22, -1.0),
    "low_fn": (1.0, -0.11, -2.0),
}
WindowPlacement = Literal["righter", "lefter", "center"]


@dataclass(frozen=True)
class BinaryScores:
    """Point-wise outlier scores. ``far`` and ``mar`` are fractions (x100 for SKAB's %)."""

    tp: int
    tn: int
    fp: int
    fn: int

    @property
    def f1(self) -> float:
        denom = self.tp + (self.fn + self.fp) / 2
        return float(self.tp / denom) if denom else 0.0

    @property
    def far(self) -> float:
        return float(self.fp / (self.fp + self.tn)) if self.fp + self.tn else 0.0

    @property
    def mar(self) -> float:
        return float(self.fn / (self.fn + self.tp)) if self.fn + self.tp else 0.0


def _pairs(
    true: Sequence[np.ndarray], pred: Sequence[np.ndarray]
) -> list[tuple[np.ndarray, np.ndarray]]:
    if len(true) != len(pred):
        raise DataError(
            f"true has {len(true)} runs but prediction {len(pred)}; give one array per run"
        )
    out = []
    for i, (t, p) in enumerate(zip(true, pred, strict=True)):
        t, p = np.asarray(t), np.asarray(p)
        if t.shape != p.shape or t.ndim != 1:
            raise DataError(
                f"run {i}: true shape {t.shape} vs prediction {p.shape}; expected equal 1-D"
            )
        out.append((t == 1, p == 1))
    return out


def binary_scores(true: Sequence[np.ndarray], pred: Sequence[np.ndarray]) -> BinaryScores:
    """SKAB's outlier F1/FAR/MAR: confusion counts summed over runs (one 0/1 array per run)."""
    tp = tn = fp = fn = 0
    for t, p in _pairs(true, pred):
        tp += int(np.sum(t & p))
        tn += int(np.sum(~t & ~p))
        fp += int(np.sum(~t & p))
        fn += int(np.sum(t & ~p))
    return BinaryScores(tp=tp, tn=tn, fp=fp, fn=fn)


def changepoints_from_outliers(pred: np.ndarray) -> np.ndarray:
    """SKAB's predicted changepoints: ``|diff(prediction)|`` with the first element kept."""
    pred = np.asarray(pred).astype(np.int8)
    cp = np.zeros_like(pred)
    if pred.size:
        cp[0] = pred[0]
        cp[1:] = np.abs(np.diff(pred))
    return cp


def _tanh_scale(rel: float, a_tp: float, a_fp: float, detail: int = 1000) -> float:
    """SKAB ``my_scale`` (koef=1): tanh from ``a_tp`` (rel=0, window start) to ``a_fp`` (rel=1)."""
    x = np.linspace(-np.pi / 2, np.pi / 2, detail)
    event = min(int(rel * detail), detail - 1)
    half = (a_tp - a_fp) / 2
    return float(-half * np.tanh(x[event]) / np.tanh(np.pi / 2) + half + a_fp)


def _windows(
    t_s: np.ndarray, cp_idx: np.ndarray, window_s: float, placement: WindowPlacement
) -> list[tuple[float, float]]:
    wins = []
    for i in cp_idx:
        c = float(t_s[i])
        if placement == "righter":
            wins.append([c, c + window_s])
        elif placement == "lefter":
            wins.append([c - window_s, c])
        elif placement == "center":
            wins.append([c - window_s / 2, c + window_s / 2])
        else:
            raise DataError(f"placement={placement!r}, expected 'righter', 'lefter' or 'center'")
    # SKAB's default intersection mode 'cut right window': a window starts where the last ends.
    for i in range(len(wins) - 1):
        if wins[i][1] >= wins[i + 1][0]:
            wins[i + 1][0] = wins[i][1]
    return [(a, b) for a, b in wins]


def nab_counts(
    t_s: np.ndarray,
    true_cp: np.ndarray,
    pred_cp: np.ndarray,
    *,
    window_s: float,
    placement: WindowPlacement = "righter",
) -> np.ndarray:
    """Raw NAB sums of one run: array [3 profiles, (score, null, perfect)].

    ``t_s`` are timestamps in seconds (any origin), ascending; ``true_cp``/``pred_cp`` 0/1.
    """
    t_s = np.asarray(t_s, dtype=np.float64)
    wins = _windows(t_s, np.flatnonzero(np.asarray(true_cp) == 1), window_s, placement)
    times = t_s[np.asarray(pred_cp) == 1]
    n_fp = 0
    tp_rel: list[float] = []
    n_fn = 0
    if not wins:
        n_fp = len(times)
    else:
        n_fp += int(np.sum(times < wins[0][0]))
        for i, (a, b) in enumerate(wins):
            inside = times[(times >= a) & (times <= b)]
            if inside.size == 0:
                n_fn += 1
            else:
                tp_rel.append((inside[0] - a) / (b - a) if b > a else 0.0)
            if i + 1 < len(wins):
                n_fp += int(np.sum((times > b) & (times < wins[i + 1][0])))
        n_fp += int(np.sum(times > wins[-1][1]))
    out = np.zeros((3, 3))
    for k, (a_tp, a_fp, a_fn) in enumerate(NAB_PROFILES.values()):
        score = a_fp * n_fp + a_fn * n_fn + sum(_tanh_scale(r, a_tp, a_fp) for r in tp_rel)
        out[k] = (score, len(wins) * a_fn, len(wins) * a_tp)
    return out


def nab_scores(
    t_s: Sequence[np.ndarray],
    true_cp: Sequence[np.ndarray],
    pred_cp: Sequence[np.ndarray],
    *,
    window_s: float = 60.0,
    placement: WindowPlacement = "righter",
) -> dict[str, float]:
    """NAB score (0 = no detector, 100 = perfect) per profile, sums over runs as SKAB does."""
    if not (len(t_s) == len(true_cp) == len(pred_cp)):
        raise DataError("t_s, true_cp and pred_cp need one array per run each")
    total = np.zeros((3, 3))
    for t, c, p in zip(t_s, true_cp, pred_cp, strict=True):
        total += nab_counts(t, c, p, window_s=window_s, placement=placement)
    res = {}
    for k, name in enumerate(NAB_PROFILES):
        score, null, perfect = total[k]
        res[name] = float(100 * (score - null) / (perfect - null)) if perfect != null else 0.0
    return res
