"""Export a trained diagnoser as a signed edge module, and run such a module on windows.

The module names `envelope_features` as its numpy pre-processing (with the bearing geometry
and window rate as parameters) and `argmax_labels` as post-processing; the graph maps features
to class probabilities. `predict({"waveform": [n, samples], "shaft_hz": [n]})` gives labels.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgetwin.edge import DatasetRef, EdgeModule, Manifest, ModelInfo, TensorSpec, build_module
from edgetwin.edge.manifest import Operation
from edgetwin.pdm.diagnose.experts import DiagnosisExperts
from edgetwin.pdm.diagnose.model import INPUT_NAME, OUTPUT_NAME, EnvelopeDiagnoser
from edgetwin.pdm.features.bearing import SKF_6205_2RS, BearingGeometry
from edgetwin.pdm.features.envelope import feature_names

MODULE_NAME = "bearing-envelope-diagnosis"
PREPROCESS = "edgetwin.pdm.features.envelope:envelope_features"
POSTPROCESS = "edgetwin.edge.processing:argmax_labels"


def feature_params(
    rate_hz: float = 12000.0, geometry: BearingGeometry = SKF_6205_2RS
) -> dict[str, Any]:
    """Parameters of `envelope_features` as the module stores them (JSON-friendly)."""
    return {
        "rate_hz": float(rate_hz),
        **geometry.to_dict(),
        "n_balls": int(geometry.n_balls),
        "harmonics": 3,
        "tol": 0.01,
        "levels": 3,
        "min_lo_hz": 500.0,
        "exclusive": True,
        "layout": "family",
        "band_shares": 16,
        "floor": True,
    }


def build_diagnosis_module(
    model: EnvelopeDiagnoser | DiagnosisExperts,
    out_path: str | Path,
    params: Mapping[str, Any],
    *,
    verification: Mapping[str, Any] | None = None,
    data_files: Sequence[Path] = (),
    evidence: Mapping[str, Any] | None = None,
    signing_key: Any = None,
) -> Path:
    """Write a signed module zip for `model`; `verification` carries the measured metrics."""
    harmonics = int(params.get("harmonics", 3))
    manifest = Manifest(
        name=MODULE_NAME,
        task="diagnosis",
        version="0.1.0",
        description=(
            "Bearing fault diagnosis (normal / inner race / ball / outer race) from 1-second "
            "vibration windows: envelope-spectrum energy at the defect frequencies of the bearing "
            "geometry at the measured shaft speed, scale-free time statistics, logistic regression."
        ),
        inputs={
            INPUT_NAME: TensorSpec(
                shape=["batch", model.n_features_in_],
                dtype="float32",
                description="envelope_features output, columns: "
                + ", ".join(
                    feature_names(
                        harmonics,
                        str(params.get("layout", "harmonic")),
                        int(params.get("band_shares", 0)),
                    )
                ),
            )
        },
        outputs={
            OUTPUT_NAME: TensorSpec(
                shape=["batch", len(model.classes_)],
                dtype="float32",
                description="class probabilities, order: " + ", ".join(model.classes_),
            )
        },
        preprocess={"function": PREPROCESS, "params": dict(params)},
        postprocess={"function": POSTPROCESS, "params": {"labels": list(model.classes_)}},
        data=[DatasetRef.from_path(p.stem, p, role="train") for p in data_files],
        preparation=[
            "drive-end acceleration, 1-second windows every 0.5 s, shaft speed from the file's rpm",
            "squared envelope spectrum of the spectral-kurtosis band and of a wide band (>= min_lo_hz)",
            "log peak/median ratios at harmonics of shaft, BPFO, BPFI, BSF, FTF and sidebands",
            "a search bin shared by two families counts for the nearer target (exclusive)",
            "layout 'family': mean log ratio over harmonics per band and family",
            "band_shares: log spectral band-energy shares (the generic expert; its vote counts only "
            "for windows within its domain gate)",
        ],
        model=ModelInfo(
            family="logistic-regression"
            if isinstance(model, EnvelopeDiagnoser)
            else "logistic-regression experts (physics x domain-gated generic; health: "
            + model.health
            + ")",
            hyperparameters={
                "prior": model.prior,
                **({"health": model.health} if isinstance(model, DiagnosisExperts) else {}),
                "C": model.C,
                "max_iter": model.max_iter,
                "classes": list(model.classes_),
            },
        ),
        verification=dict(verification or {}),
        deployment={"input": {"waveform": "[batch, samples] float", "shaft_hz": "[batch] Hz"}},
        operation=Operation(latency_budget_ms=5.0),
        evidence=dict(evidence or {}),
    )
    return build_module(
        out_path, onnx_fp32=model.to_onnx(), manifest=manifest, signing_key=signing_key
    )


def module_predict(
    module: EdgeModule, windows: NDArray[np.floating], shaft_hz: float | NDArray[np.floating]
) -> list[str]:
    """Labels of `windows` ([n, samples] or [samples]) through the module's full path."""
    x = np.atleast_2d(np.asarray(windows, dtype=np.float64))
    shaft = np.broadcast_to(np.asarray(shaft_hz, dtype=np.float64).ravel(), (x.shape[0],))
    return [str(v) for v in module.predict({"waveform": x, "shaft_hz": shaft})]


def module_predictor(
    model: EnvelopeDiagnoser | DiagnosisExperts, path: Path, params: Mapping[str, Any]
) -> Any:
    """Export `model` to `path` and return (windows, shaft_hz) -> labels through the module."""
    mod = EdgeModule.load(build_diagnosis_module(model, path.with_suffix(".zip"), params))
    return lambda x, shaft: module_predict(mod, x, shaft)


def window_latency_ms(
    module: EdgeModule, window: NDArray[np.floating], shaft_hz: float, repeats: int = 50
) -> NDArray[np.float64]:
    """[repeats, 2]: wall-clock and thread-CPU milliseconds of `predict` on one window.

    On a shared machine wall time includes waiting for a core; thread CPU time is the work.
    """
    x = np.asarray(window, dtype=np.float64)[None, :]
    module_predict(module, x, shaft_hz)  # warm-up
    times = []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.thread_time()
        module_predict(module, x, shaft_hz)
        times.append(((time.perf_counter() - t0) * 1e3, (time.thread_time() - c0) * 1e3))
    return np.asarray(times)
