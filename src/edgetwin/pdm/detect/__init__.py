"""Offline (batch) anomaly detectors for multivariate process data, benchmarked on SKAB and TEP.

`mewma.MewmaT2Detector` is the benchmark-grade detector (per-run calibration, slow sensors
watched as changes, EWMA smoothing, pooled Hotelling T2, one threshold with hysteresis);
`pca.PcaT2Spe` is the classic PCA T2/SPE baseline; `onnx_graph` turns a fitted detector into
the ONNX graph an edge module ships; `processing` holds the numpy steps the module names;
`module` builds and evaluates the edge module.
"""

from edgetwin.pdm.detect.calibration import (
    Calibration,
    calibrate,
    drift_scale,
    increment_scale,
    normal_segments,
    same_operating_point,
    slow_features,
    variance_ratio,
)
from edgetwin.pdm.detect.mewma import (
    MewmaT2Detector,
    RunResult,
    causal_filter,
    causal_smooth,
    channel_kernels,
    ewma_kernel,
)

__all__ = [
    "Calibration",
    "MewmaT2Detector",
    "RunResult",
    "calibrate",
    "causal_filter",
    "causal_smooth",
    "channel_kernels",
    "drift_scale",
    "ewma_kernel",
    "increment_scale",
    "normal_segments",
    "same_operating_point",
    "slow_features",
    "variance_ratio",
]
