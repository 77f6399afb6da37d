"""Offline (batch) anomaly detectors for multivariate process data, benchmarked on SKAB and TEP.

`mewma.MewmaT2Detector` is the benchmark-grade detector (per-run calibration, EWMA smoothing,
pooled Hotelling T2); `pca.PcaT2Spe` is the classic PCA T2/SPE baseline; `onnx_graph` turns a
fitted detector into the ONNX graph an edge module ships; `processing` holds the numpy steps
the module names; `module` builds and evaluates the edge module.
"""

from edgetwin.pdm.detect.calibration import Calibration, calibrate, drift_scale, normal_segments
from edgetwin.pdm.detect.mewma import MewmaT2Detector, RunResult, causal_smooth, ewma_kernel

__all__ = [
    "Calibration",
    "MewmaT2Detector",
    "RunResult",
    "calibrate",
    "causal_smooth",
    "drift_scale",
    "ewma_kernel",
    "normal_segments",
]
