"""Train and evaluate the envelope diagnoser on CWRU windows; run a whole split protocol.

Training computes features with the very function the edge module names; evaluation runs the
exported, signed module (features -> ONNX -> labels), so reported figures are the module's.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgetwin.pdm.datasets.cwru import CLASSES, CwruRecord
from edgetwin.pdm.diagnose.experts import DiagnosisExperts
from edgetwin.pdm.diagnose.model import EnvelopeDiagnoser
from edgetwin.pdm.diagnose.splits import WindowRef, make_folds
from edgetwin.pdm.features.envelope import envelope_features

log = logging.getLogger(__name__)

WINDOW_S = 1.0
Model = EnvelopeDiagnoser | DiagnosisExperts
HOP_S = 0.5


@dataclass
class EvalResult:
    """Accuracy and confusion matrix (rows: true class, columns: predicted, in `labels` order)."""

    accuracy: float
    confusion: NDArray[np.int64]
    labels: tuple[str, ...] = CLASSES
    n: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy,
            "n": self.n,
            "labels": list(self.labels),
            "confusion": self.confusion.tolist(),
        }


@dataclass
class FoldResult:
    name: str
    result: EvalResult
    train_s: float
    n_train: int


@dataclass
class SplitResult:
    split: str
    folds: list[FoldResult] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        """Mean of the fold accuracies (each fold weighs the same)."""
        return float(np.mean([f.result.accuracy for f in self.folds]))

    @property
    def confusion(self) -> NDArray[np.int64]:
        return np.asarray(sum(f.result.confusion for f in self.folds), dtype=np.int64)


def gather(
    records: Sequence[CwruRecord], refs: Sequence[WindowRef], window: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.str_]]:
    """Windows [n, window], shaft speeds [n] (Hz) and labels [n] of `refs`."""
    x = np.stack([records[r.record].signal[r.start : r.start + window] for r in refs])
    shaft = np.array([records[r.record].shaft_hz for r in refs])
    return x, shaft, np.array([r.label for r in refs])


def confusion(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str] = CLASSES
) -> EvalResult:
    """Accuracy and confusion matrix of string labels."""
    index = {c: i for i, c in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        cm[index[str(t)], index[str(p)]] += 1
    n = int(cm.sum())
    return EvalResult(float(np.trace(cm)) / max(n, 1), cm, tuple(labels), n)


class FeatureCache:
    """Features of (record, start) windows, computed once per protocol run."""

    def __init__(
        self,
        records: Sequence[CwruRecord],
        window: int,
        params: dict[str, Any],
        features: Callable[..., NDArray[np.float32]] = envelope_features,
    ) -> None:
        self.records = records
        self.window = window
        self.params = params
        self.features = features
        self._cache: dict[tuple[int, int], NDArray[np.float32]] = {}

    def __call__(self, refs: Sequence[WindowRef]) -> NDArray[np.float32]:
        todo = [r for r in refs if (r.record, r.start) not in self._cache]
        if todo:
            x, shaft, _ = gather(self.records, todo, self.window)
            feats = self.features(x, shaft_hz=shaft, **self.params)
            self._cache.update({(r.record, r.start): f for r, f in zip(todo, feats, strict=True)})
        return np.stack([self._cache[(r.record, r.start)] for r in refs])


def fit_windows(
    records: Sequence[CwruRecord],
    refs: Sequence[WindowRef],
    params: dict[str, Any],
    window: int,
    cache: FeatureCache | None = None,
    make_model: Callable[[], Model] = DiagnosisExperts,
) -> Model:
    """Fit a fresh `make_model()` on the windows `refs` (DiagnosisExperts: with loads and recordings)."""
    cache = cache or FeatureCache(records, window, params)
    model = make_model()
    labels = [r.label for r in refs]
    if isinstance(model, DiagnosisExperts):  # the domain gate: loads and recordings
        loads = [records[r.record].meta.load_hp for r in refs]
        return model.fit(cache(refs), labels, loads, [r.record for r in refs])
    return model.fit(cache(refs), labels)


Predictor = Callable[[NDArray[np.float64], NDArray[np.float64]], Sequence[str]]


def run_split(
    records: Sequence[CwruRecord],
    split: str,
    params: dict[str, Any],
    predictor_for: Callable[[Model, Path], Predictor],
    *,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    features: Callable[..., NDArray[np.float32]] = envelope_features,
    make_model: Callable[[], Model] = DiagnosisExperts,
) -> SplitResult:
    """Run every fold of `split`: fit, export through `predictor_for`, evaluate the export.

    `predictor_for(model, tmpdir)` builds the deployable artefact and returns a function
    (windows, shaft_hz) -> labels; see `edgetwin.pdm.diagnose.module.module_predictor`.
    `features` and `make_model` replace the envelope features and the default classifier (for
    baselines and ablations run under the same protocol).
    """
    rate = float(params.get("rate_hz", 12000.0))
    window, hop = int(WINDOW_S * rate), int(HOP_S * rate)
    cache = FeatureCache(records, window, params, features)
    out = SplitResult(split)
    with tempfile.TemporaryDirectory() as tmp:
        for k, fold in enumerate(make_folds(records, split, window=window, hop=hop, seed=seed)):
            t0 = time.perf_counter()
            model = fit_windows(records, fold.train, params, window, cache, make_model)
            train_s = time.perf_counter() - t0
            predict = predictor_for(model, Path(tmp) / f"fold{k}")
            x, shaft, y = gather(records, fold.test, window)
            res = confusion(y.tolist(), predict(x, shaft))
            out.folds.append(FoldResult(fold.name, res, train_s, len(fold.train)))
            log.info("%s %s: accuracy %.4f on %d windows", split, fold.name, res.accuracy, res.n)
            if progress:
                progress(fold.name)
    return out
