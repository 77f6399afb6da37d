"""Train the SKAB detector, ship it as an edge module, and evaluate the shipped module.

The figures in a module's manifest come from the module itself: `evaluate_module` runs
`EdgeModule.predict` (numpy calibration -> ONNX -> numpy threshold) on each run, so what is
benchmarked is what the runtime executes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgetwin.core.errors import ModuleError
from edgetwin.pdm.datasets.skab import SENSOR_COLUMNS, SKAB_TRAIN_ROWS, SkabRun
from edgetwin.pdm.detect.calibration import normal_segments, same_operating_point
from edgetwin.pdm.detect.mewma import MewmaT2Detector
from edgetwin.pdm.detect.onnx_graph import detector_to_onnx
from edgetwin.pdm.detect.processing import standardize_first_rows
from edgetwin.pdm.detect.skab_protocol import (
    NAB_PLACEMENT,
    NAB_WINDOW_S,
    SkabEvaluation,
    evaluate_flags,
)

log = logging.getLogger(__name__)

MODULE_NAME = "skab-mewma-t2"
#: INT8 scores may differ from fp32 by this fraction of the median score before we refuse it.
INT8_REL_TOL = 0.05


def training_segments(
    runs: Sequence[SkabRun],
    calibration_rows: int = SKAB_TRAIN_ROWS,
    match_operating_point: bool = True,
) -> list[np.ndarray]:
    """Normal segments of ``runs``: labelled runs' first rows, unlabelled runs cut into segments.

    With ``match_operating_point`` (and at least one labelled run), segments of unlabelled
    runs recorded at another operating point than the labelled runs' first rows are left out
    (`calibration.same_operating_point`): the monitored runs' own normal rows describe them
    better. SKAB: the anomaly-free run (125 L/min) is left out next to the valve runs (32 L/min).
    """
    labelled = [r for r in runs if r.anomaly is not None]
    free = [r for r in runs if r.anomaly is None]
    segs = (
        normal_segments([(r.values, r.anomaly) for r in labelled], calibration_rows)
        if labelled
        else []
    )
    free_segs = normal_segments([(r.values, None) for r in free], calibration_rows) if free else []
    if match_operating_point and segs and free_segs:
        keep = same_operating_point(free_segs, segs)
        if not all(keep):
            log.info(
                "left out %d of %d unlabelled segments: recorded at another operating point "
                "than the labelled runs' first rows",
                keep.count(False),
                len(keep),
            )
        free_segs = [s for s, k in zip(free_segs, keep, strict=True) if k]
    if not segs and not free_segs:
        raise ModuleError(
            f"no normal segment of {calibration_rows} rows in {len(runs)} runs; give anomaly-free "
            f"files or labelled runs whose first {calibration_rows} rows are normal"
        )
    return free_segs + segs


def fit_detector(
    runs: Sequence[SkabRun], match_operating_point: bool = True, **params: Any
) -> MewmaT2Detector:
    """Fit on the normal segments of ``runs`` (see `training_segments`)."""
    det = MewmaT2Detector(**params)
    return det.fit(training_segments(runs, det.calibration_rows, match_operating_point))


def _manifest(det: MewmaT2Detector, runs: Sequence[SkabRun], verification: dict[str, Any]) -> Any:
    from edgetwin.edge import DatasetRef, Manifest, ModelInfo, TensorSpec

    folders = sorted({str(r.path.parent) for r in runs})
    data = [DatasetRef.from_path(Path(f).name, f, role="train") for f in folders]
    n = det.calibration_rows
    return Manifest(
        name=MODULE_NAME,
        task="anomaly",
        version="0.2.0",
        description=(
            "Multivariate EWMA Hotelling-T2 anomaly detector for the SKAB water-pump testbed. "
            f"predict(run) calibrates on the run's first {n} rows (SKAB protocol) and flags rows."
        ),
        inputs={
            "z": TensorSpec(
                shape=["batch", "time", len(SENSOR_COLUMNS)],
                dtype="float32",
                description="rows standardised by the per-run calibration, order: "
                + ", ".join(SENSOR_COLUMNS),
            )
        },
        outputs={
            "score": TensorSpec(
                shape=["batch", "time"],
                dtype="float32",
                description="Hotelling T2 of the EWMA-smoothed rows (dimensionless)",
            )
        },
        preprocess={
            "function": "edgetwin.pdm.detect.processing:standardize_first_rows",
            "params": {
                "calibration_rows": n,
                "horizon": det.horizon,
                "fixed_scale": _fixed_scale(det),
            },
        },
        postprocess={
            "function": "edgetwin.pdm.detect.processing:flags_hysteresis",
            "params": {
                "on": det.threshold_,
                "off": det.hysteresis * det.threshold_,
            },
        },
        data=data,
        preparation=[
            f"normal segments: first {n} rows of each labelled run, unlabelled runs cut into {n}-row segments",
            "per-segment standardisation: mean and variogram drift scale (horizon "
            f"{det.horizon} samples) of the segment itself",
            f"slow features {[SENSOR_COLUMNS[i] for i in det.slow_]}: change over "
            f"{det.slow_lag_} samples, scale pooled over all segments",
            f"threshold: {det.factor} x q{det.quantile} of the scores of all segments",
        ],
        model=ModelInfo(
            family="mewma-t2",
            hyperparameters={
                **det.get_params(),
                "slow_features": [SENSOR_COLUMNS[i] for i in det.slow_],
                "slow_lag_samples": det.slow_lag_,
                "threshold": det.threshold_,
                "segments": det.n_segments_,
                "train_rows": det.n_train_rows_,
            },
        ),
        verification=verification,
        deployment={
            "runtime": "onnxruntime",
            "opset": 17,
            "inputs_per_call": "one whole run or a window",
        },
        evidence={
            "protocol": f"SKAB: per run calibrate on first {n} rows, score all rows; "
            f"F1/FAR/MAR point-wise summed over runs; NAB window {NAB_WINDOW_S:g} s {NAB_PLACEMENT}"
        },
    )


def _fixed_scale(det: MewmaT2Detector) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in det.fixed_scale_]


def build_detector_module(
    det: MewmaT2Detector,
    runs: Sequence[SkabRun],
    out_path: str | Path,
    *,
    verification: dict[str, Any] | None = None,
    int8: bool = True,
) -> tuple[Path, dict[str, Any]]:
    """Export fp32 (and, if parity holds, INT8) ONNX into a signed module; returns (path, int8 report)."""
    from edgetwin.edge import build_module
    from edgetwin.edge.module import make_session
    from edgetwin.edge.parity import check_parity
    from edgetwin.edge.quantize import quantize_static

    fp32 = detector_to_onnx(det)
    z_cal = [
        standardize_first_rows(r.values, det.calibration_rows, det.horizon, _fixed_scale(det))
        for r in runs
        if len(r) > det.calibration_rows
    ]
    int8_bytes: bytes | None = None
    report: dict[str, Any] = {"int8": "not requested"}
    if int8 and z_cal:
        q = quantize_static(fp32, [{"z": z} for z in z_cal])
        sess_f, sess_q = make_session(fp32, intra_op_threads=1), make_session(q, intra_op_threads=1)
        ref = np.concatenate([sess_f.run(None, {"z": z})[0].ravel() for z in z_cal])
        cand = np.concatenate([sess_q.run(None, {"z": z})[0].ravel() for z in z_cal])
        # tolerance on the decision scale: a few % of the typical (median) normal score
        atol = INT8_REL_TOL * float(np.median(ref))
        rep = check_parity(ref, cand, atol=atol, name="int8 vs fp32 score", raise_on_fail=False)
        report = {"int8": rep.as_dict()}
        if rep.passed:
            int8_bytes = q
        else:
            log.info("INT8 twin dropped: %s", rep)
    verification = dict(verification or {})
    verification.update(report)
    manifest = _manifest(det, runs, verification)
    path = build_module(out_path, onnx_fp32=fp32, manifest=manifest, onnx_int8=int8_bytes)
    return path, report


def module_flags(module: Any, runs: Sequence[SkabRun]) -> tuple[list[np.ndarray], list[float]]:
    """Run a loaded `EdgeModule` on each run; return flags and per-run latency (ms)."""
    flags, lat = [], []
    for r in runs:
        t0 = time.perf_counter()
        flags.append(np.asarray(module.predict(r.values)).astype(np.int8).reshape(-1))
        lat.append((time.perf_counter() - t0) * 1e3)
    return flags, lat


def evaluate_module(
    path: str | Path, runs: Sequence[SkabRun], precision: str = "fp32"
) -> tuple[SkabEvaluation, list[float]]:
    """Load the signed module and score it with SKAB's protocol on labelled runs."""
    from edgetwin.edge import EdgeModule

    mod = EdgeModule.load(path, precision=precision, intra_op_threads=1)
    if any(len(r) <= SKAB_TRAIN_ROWS for r in runs):
        raise ModuleError(f"every run needs more than {SKAB_TRAIN_ROWS} rows (calibration rows)")
    flags, lat = module_flags(mod, runs)
    return evaluate_flags(runs, flags), lat
