"""RUL edge modules: export a trained `CnnRulRegressor`, evaluate the module, predict on live data.

The module is what the runtime runs and what the benchmark measures:

- input ``windows`` float32 [batch, window / step_cycles, features]: per-regime standardised
  sensors, each step the mean of ``step_cycles`` consecutive cycles, made by
  `edgetwin.pdm.rul.windows:preprocess_histories` from raw histories (params in the manifest);
- output ``rul`` float32 [batch, 1]: RUL in cycles (ensemble mean);
- postprocess `edgetwin.pdm.rul.conformal:rul_with_interval` -> {"rul", "rul_lo", "rul_hi"}.

Live contract (`predict_last`): a history [cycles, 24] of raw measurements in C-MAPSS column
order (3 operational settings, then sensors 1-21, oldest cycle first; 26 columns with unit and
cycle first are accepted too). Only the last ``window`` cycles are used (and the first
``baseline_cycles`` for a model that reads change since start); shorter histories are padded by
repeating their first row. A model that reads the asset's age (``age_scale`` in the manifest)
takes the cycle number from the second column of full rows, and counts from cycle 1 otherwise.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgetwin.core.errors import DataError
from edgetwin.edge import (
    DatasetRef,
    EdgeModule,
    InputStats,
    Manifest,
    ModelInfo,
    Operation,
    build_module,
)
from edgetwin.edge.parity import check_parity
from edgetwin.edge.quantize import calibration_batches, quantize_static
from edgetwin.pdm.datasets.cmapss import RAW_FEATURE_NAMES, CmapssRuns, load_runs, load_truth
from edgetwin.pdm.metrics import (
    error_by_truth,
    interval_coverage,
    mean_interval_width,
    phm08_score,
    rmse,
)
from edgetwin.pdm.rul.conformal import phm_point

log = logging.getLogger(__name__)

PREPROCESS = "edgetwin.pdm.rul.windows:preprocess_histories"
#: The accuracy figures `evaluate_module` measures, as the CLI records and the bench reports them.
METRIC_KEYS = (
    "rmse",
    "score",
    "coverage",
    "rmse_raw",
    "score_raw",
    "coverage_raw",
    "interval_width",
    "rmse_phm",
    "score_phm",
)
POSTPROCESS = "edgetwin.pdm.rul.conformal:rul_with_interval"
#: The INT8 twin pads the input convolution's channels to this multiple (exact; lets
#: onnxruntime use its symmetric int8 convolution kernel, see `pad_first_conv_channels`).
INT8_CHANNEL_MULTIPLE = 16
PROTOCOL = (
    "C-MAPSS: piecewise-linear target capped at 125 cycles; one prediction per test engine at its "
    "last cycle on the official test split; RMSE and PHM08 score against capped and raw truth"
)


def _sample_windows(est: Any, runs: CmapssRuns, n: int, seed: int) -> np.ndarray:
    """Real training windows (normalised), sampled across engines, for calibration and stats."""
    rng = np.random.default_rng(seed)
    xs = [est.windows_of(runs.features[s], runs.cycle[s]) for s in runs.engine_slices()]
    x = np.concatenate(xs)
    return x[rng.choice(len(x), size=min(n, len(x)), replace=False)].astype(np.float32)


def export_module(
    est: Any,
    runs: CmapssRuns,
    out_path: str | Path,
    *,
    name: str = "rul-cmapss",
    version: str = "0.1.0",
    calibration_samples: int = 512,
) -> Path:
    """Export a fitted `CnnRulRegressor` as a signed edge module with its INT8 twin.

    Checks fp32 ONNX against the torch ensemble (parity within 0.05 cycles) before writing, and
    records the INT8 deviation on real training windows in the manifest. The INT8 twin is
    quantised from the same function exported with a channels-last head, keeps its output in
    float and pads the input convolution's channels (all exact rewrites that save int8 ops).
    """
    onnx_fp32 = est.to_onnx()
    sample = _sample_windows(est, runs, 4 * calibration_samples, est.random_state)
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_fp32, providers=["CPUExecutionProvider"])
    onnx_pred = sess.run(["rul"], {"windows": sample})[0].ravel()
    parity = check_parity(
        est.predict_windows(sample), onnx_pred, atol=0.05, name="torch->onnx fp32 (cycles)"
    )
    calib = sample[:calibration_samples]
    onnx_int8 = quantize_static(
        est.to_onnx(channels_last_head=True),
        calibration_batches(calib, "windows", batch_size=64),
        float_outputs=True,
        first_conv_channel_multiple=INT8_CHANNEL_MULTIPLE,
    )
    sess8 = ort.InferenceSession(onnx_int8, providers=["CPUExecutionProvider"])
    int8_pred = sess8.run(["rul"], {"windows": sample})[0].ravel()
    int8_dev = float(np.sqrt(np.mean((int8_pred - onnx_pred) ** 2)))
    norm = est.normalizer_
    manifest = Manifest(
        name=name,
        task="rul",
        version=version,
        description="Remaining useful life (cycles) of a turbofan-like asset with a conformal interval.",
        preprocess={
            "function": PREPROCESS,
            "params": est.preprocess_params(),
            "input_columns": list(RAW_FEATURE_NAMES),
        },
        postprocess={
            "function": POSTPROCESS,
            "params": {**est.intervals_.to_params(), "cap_cycles": est.cap_cycles},
            "output": "rul",
            "signals": ["rul", "rul_lo", "rul_hi"],
            "unit": "cycles",
        },
        data=[DatasetRef.from_path(runs.path.stem, runs.path, rows=len(runs.unit), role="train")],
        preparation=[
            f"operating regimes detected by KMeans on the 3 settings, k by silhouette: {norm.n_regimes_} "
            f"(silhouette {norm.silhouette_:.3f})",
            f"sensors standardised per regime; kept {len(norm.sensor_columns_)} sensors "
            f"{[f's{c + 1}' for c in norm.sensor_columns_]} (others have < {norm.min_distinct} distinct values)",
            f"windows of {est.window} cycles ending at every cycle, front-padded with the first row, "
            f"each run of {est.step_cycles} cycles averaged into one of "
            f"{est.window // est.step_cycles} input steps",
            *_extra_input_notes(est),
            f"target min(RUL, {est.cap_cycles:g}) cycles",
        ],
        model=ModelInfo.model_validate(
            dict(
                family="1d-cnn-ensemble",
                hyperparameters=est.get_params(),
                members=len(est.ensemble_.members),
                member_epochs=est.member_epochs_,
            )
        ),
        verification={
            "protocol": PROTOCOL,
            "oof_rmse_all_windows": round(est.oof_rmse_, 3),
            "oof_rmse_single_member_per_repeat": [round(v, 3) for v in est.oof_rmse_per_repeat_],
            "interval_coverage_target": est.coverage,
            # out of fold, free of early stopping's choice: each half of a fold at the epoch the
            # other half chose (the figure above is at the epochs chosen on the fold itself)
            "oof_rmse_cross_selected": round(est.cross_oof_rmse_, 3),
            "interval_calibration": est.calibration,
            "train_seconds": round(est.train_seconds_, 1),
            "train_threads": est.n_threads,
            "int8_rmse_vs_fp32_cycles": round(int8_dev, 4),
        },
        operation=Operation(
            monitors=[{"signal": "rul", "kind": "interval", "lo": "rul_lo", "hi": "rul_hi"}],
            input_stats={"windows": InputStats.from_array(sample, feature_axis=2)},
        ),
        evidence={"parity_torch_onnx": parity.as_dict()},
    )
    return build_module(out_path, onnx_fp32=onnx_fp32, manifest=manifest, onnx_int8=onnx_int8)


def _extra_input_notes(est: Any) -> list[str]:
    """The manifest's words for the inputs beyond the sensors: what a live history must carry."""
    notes = []
    if est.age_scale_:
        notes.append(
            f"input: the asset's age, cycle number / {est.age_scale_:.1f}"
            + (" (the training engines' mean life)" if est.age_scale == "auto" else "")
            + "; histories count cycles from the asset's first, or carry the cycle column"
        )
    if est.baseline_cycles:
        notes.append(
            f"input: each sensor minus its mean over the asset's first {est.baseline_cycles} "
            "cycles (change since start); histories must start at the asset's first cycle"
        )
    return notes


def predict_last(module: EdgeModule, history: np.ndarray) -> tuple[float, float, float]:
    """(rul, lo, hi) in cycles at the last row of one history (see module doc).

    ``history`` is [cycles, 24] raw measurements counted from cycle 1, or [cycles, 26] full rows
    whose second column carries the cycle number (what the live monitor passes, so a model that
    reads the asset's age gets it right when only the last window of rows is kept).
    """
    out = module.predict(np.asarray(history, dtype=np.float64))
    return float(out["rul"][0]), float(out["rul_lo"][0]), float(out["rul_hi"][0])


def evaluate_module(
    module_path: str | Path,
    test_path: str | Path,
    truth_path: str | Path,
    precision: str = "fp32",
    cap_cycles: float = 125.0,
) -> dict[str, Any]:
    """Official-protocol metrics of a module on a C-MAPSS test split (one prediction per engine).

    Returns RMSE / PHM08 score / interval coverage against the capped truth (what the model is
    trained for and what most published figures use) and against the raw truth, RMSE / score
    of the PHM08-optimal point (`phm_point`, capped truth; ``_phm`` keys), the error per band
    of capped true RUL (``by_truth``, see `error_by_truth`), plus the predictions and the
    median per-engine latency (ms) of the module, preprocessing included.
    """
    mod = EdgeModule.load(module_path, precision=precision)
    if mod.manifest.task != "rul":
        raise DataError(f"module {module_path} has task {mod.manifest.task!r}; pass an RUL module")
    runs = load_runs(test_path)
    truth = load_truth(truth_path, len(runs.units))
    histories = runs.histories()
    out = mod.predict(histories)
    lat = []
    for h in histories[: min(50, len(histories))]:
        t0 = time.perf_counter()
        mod.predict(h)
        lat.append((time.perf_counter() - t0) * 1e3)
    capped = np.minimum(truth, cap_cycles)
    p, lo, hi = out["rul"], out["rul_lo"], out["rul_hi"]
    post = mod.manifest.postprocess or {}
    p_phm = phm_point(p, post.get("params", {}))
    return {
        "precision": precision,
        "engines": len(truth),
        "rmse": rmse(capped, p),
        "score": phm08_score(capped, p),
        "coverage": interval_coverage(capped, lo, hi),
        "rmse_raw": rmse(truth, p),
        "score_raw": phm08_score(truth, p),
        "coverage_raw": interval_coverage(truth, lo, hi),
        "interval_width": mean_interval_width(lo, hi),
        "rmse_phm": rmse(capped, p_phm),
        "score_phm": phm08_score(capped, p_phm),
        "by_truth": error_by_truth(capped, p),
        "coverage_target": float(mod.manifest.postprocess["params"]["coverage"])
        if mod.manifest.postprocess
        else None,
        "latency_p50_ms": float(np.median(lat)),
        "truth": truth,
        "pred": p,
        "lo": lo,
        "hi": hi,
    }
