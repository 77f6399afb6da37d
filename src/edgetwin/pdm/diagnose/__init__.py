"""Fault diagnosis: classify bearing windows into normal / inner race / ball / outer race.

`model` holds the physics classifier on envelope features (and its ONNX graph), `experts` the
default model (physics decides health; physics x generic band shares decide the fault type),
`splits` the CWRU
evaluation protocols, `train` the feature extraction + training + evaluation loop, and `module`
the edge-module export that the runtime and the benchmarks run.
"""

from edgetwin.pdm.diagnose.experts import DiagnosisExperts
from edgetwin.pdm.diagnose.model import EnvelopeDiagnoser
from edgetwin.pdm.diagnose.splits import SPLITS, Fold, make_folds

__all__ = ["SPLITS", "DiagnosisExperts", "EnvelopeDiagnoser", "Fold", "make_folds"]
