"""Fault diagnosis: classify bearing windows into normal / inner race / ball / outer race.

`model` holds the classifier on envelope features (and its ONNX graph), `splits` the CWRU
evaluation protocols, `train` the feature extraction + training + evaluation loop, and `module`
the edge-module export that the runtime and the benchmarks run.
"""

from edgetwin.pdm.diagnose.model import EnvelopeDiagnoser
from edgetwin.pdm.diagnose.splits import SPLITS, Fold, make_folds

__all__ = ["SPLITS", "EnvelopeDiagnoser", "Fold", "make_folds"]
