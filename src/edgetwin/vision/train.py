"""Train an inspection module from good parts: fit, export, quantize, calibrate, check, sign.

The threshold is computed on the *exported* graphs (fp32 and INT8 separately, each from its own
scores on held-out good parts), because that is what decides on the line.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgetwin.core.errors import DataError, ModuleError
from edgetwin.vision.datasets import InspectionData
from edgetwin.vision.evaluate import load_images
from edgetwin.vision.export import quantize_backbone, run_onnx
from edgetwin.vision.image import check_size, resize, to_batch
from edgetwin.vision.patchcore import (
    PatchCore,
    ProgressFn,
    leave_one_out_scores,
    position_statistics,
)
from edgetwin.vision.threshold import refine_threshold, threshold_from_good

log = logging.getLogger(__name__)

MIN_CALIBRATION = 5
N_PARITY = 8
N_QUANT_CALIBRATION = 32


@dataclass
class TrainResult:
    path: Path
    detector: PatchCore
    thresholds: dict[str, float]
    parity: dict[str, Any]
    calibration_scores: dict[str, np.ndarray] = field(default_factory=dict)
    onnx: dict[str, bytes] = field(default_factory=dict)


def _parity(
    ref: tuple[np.ndarray, np.ndarray],
    got: tuple[np.ndarray, np.ndarray],
    rel: float,
    what: str,
    strict: bool,
) -> dict[str, Any]:
    from edgetwin.edge.parity import check_parity

    scale = float(max(np.abs(ref[1]).max(), 1e-6))
    return {
        f"{what}_score": check_parity(
            ref[1], got[1], atol=rel * scale, name=f"{what} score", raise_on_fail=strict
        ).as_dict(),
        f"{what}_map": check_parity(
            ref[0], got[0], atol=rel * scale, name=f"{what} map", raise_on_fail=strict
        ).as_dict(),
    }


def replace_position_norm(onnx_bytes: bytes, mean: np.ndarray, std: np.ndarray) -> bytes:
    """The same graph with other per-pixel statistics (initializers `pos_mean`, `pos_std`)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(onnx_bytes)
    done = set()
    for init in model.graph.initializer:
        for key, value in (("pos_mean", mean), ("pos_std", std)):
            if init.name.endswith(key):
                shape = tuple(init.dims)
                init.CopyFrom(
                    numpy_helper.from_array(value.astype(np.float32).reshape(shape), init.name)
                )
                done.add(key)
    if done != {"pos_mean", "pos_std"}:
        raise ModuleError(f"position statistics not found in the graph (found {sorted(done)})")
    return model.SerializeToString()


def _good_scores(
    det: PatchCore,
    out: tuple[np.ndarray, np.ndarray],
    stats: dict[str, tuple[np.ndarray, np.ndarray]],
    precision: str,
) -> np.ndarray:
    """Calibration scores for the threshold; leave-one-out when the map is position-normalised.

    The calibration images also gave the position statistics, so their in-graph scores are
    optimistic; the raw maps are recovered exactly (map * std + mean) and each image is
    re-normalised with the statistics of the others.
    """
    if not det.position_norm:
        return out[1]
    mean, std = stats[precision]
    raw = out[0].astype(np.float64) * std + mean
    return leave_one_out_scores(raw)


def train_inspection(
    data: InspectionData,
    out_path: str | Path,
    *,
    image_size: tuple[int, int] = (224, 224),
    bank_size: int = 2048,
    augment: str | None = None,
    false_reject_rate: float = 0.01,
    int8: bool = True,
    name: str = "inspection",
    seed: int = 0,
    progress: ProgressFn | None = None,
    signing_key: Any = None,
    data_path: str | Path | None = None,
    defect_images: list[np.ndarray] | None = None,
    max_false_reject_rate: float = 0.05,
    position_norm: bool = True,
) -> TrainResult:
    """Fit on `data.train`, threshold on `data.calibration`, write a signed module to `out_path`.

    With `defect_images` (the few known defective parts a user has, never the test set), each
    threshold is refined by `refine_threshold` within `max_false_reject_rate`; otherwise it is
    the good-only quantile for `false_reject_rate`.
    """
    from edgetwin.edge import DatasetRef, Manifest, ModelInfo, build_module

    size = check_size(image_size)
    if len(data.calibration) < MIN_CALIBRATION:
        raise DataError(
            f"{len(data.calibration)} calibration images: the threshold needs at least "
            f"{MIN_CALIBRATION} held-out good images; add good images to train/good"
        )
    train_imgs = load_images(data.train, size)
    calib_imgs = load_images(data.calibration, size)
    det = PatchCore(
        image_size=size,
        bank_size=bank_size,
        augment=augment,
        seed=seed,
        position_norm=position_norm,
    ).fit(train_imgs, progress)
    # Per-pixel statistics of good maps, per precision (INT8 shifts the raw distances).
    stats: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if position_norm:
        det.fit_position_norm(calib_imgs)
        stats["fp32"] = (det.pos_mean_, det.pos_std_)
    onnx_fp32 = det.to_onnx()
    calib = to_batch(calib_imgs)
    ref = det.predict(calib_imgs[:N_PARITY])
    fp32_out = run_onnx(onnx_fp32, calib)
    parity = _parity(
        ref, (fp32_out[0][:N_PARITY], fp32_out[1][:N_PARITY]), 0.01, "fp32", strict=True
    )
    scores = {"fp32": _good_scores(det, fp32_out, stats, "fp32")}
    onnx = {"fp32": onnx_fp32}
    if int8:
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(train_imgs), min(N_QUANT_CALIBRATION, len(train_imgs)), replace=False)
        onnx["int8"] = quantize_backbone(onnx_fp32, to_batch([train_imgs[i] for i in pick]))
        int8_out = run_onnx(onnx["int8"], calib)
        if position_norm:
            # The INT8 backbone shifts the raw distances: normalise INT8 with its own good maps.
            raw8 = int8_out[0].astype(np.float64) * det.pos_std_ + det.pos_mean_
            stats["int8"] = position_statistics(raw8)
            onnx["int8"] = replace_position_norm(onnx["int8"], *stats["int8"])
            int8_out = run_onnx(onnx["int8"], calib)
        parity.update(
            _parity(
                ref, (int8_out[0][:N_PARITY], int8_out[1][:N_PARITY]), 0.10, "int8", strict=False
            )
        )
        scores["int8"] = _good_scores(det, int8_out, stats, "int8")
    thresholds = {k: threshold_from_good(v, false_reject_rate) for k, v in scores.items()}
    threshold_rule = f"good-only quantile, FRR {false_reject_rate}"
    if defect_images:
        batch = to_batch([resize(im, size) for im in defect_images])
        for k in thresholds:
            _, bad = run_onnx(onnx[k], batch)
            thresholds[k] = refine_threshold(
                scores[k], bad, max_false_reject_rate=max_false_reject_rate
            )
        threshold_rule = (
            f"refined with {len(defect_images)} defect images within FRR {max_false_reject_rate} "
            "(cost 1 per false reject, 10 per escape)"
        )
    refs = []
    if data_path is not None:
        refs.append(
            DatasetRef.from_path(
                data.name, data_path, rows=len(data.train) + len(data.calibration), role="train"
            )
        )
    map_unit = (
        "std of good maps above their mean at this pixel (position-normalised feature distance)"
        if position_norm
        else "feature distance"
    )
    manifest = Manifest(
        name=name,
        task="vision-anomaly",
        description="PatchCore-family inspection: EfficientNet-Lite0 patch features (blocks 4 and 10), "
        "L2 distance to the nearest of a greedy coreset of good patches; score = max of the "
        "upsampled, Gaussian-smoothed anomaly map",
        inputs={
            "image": {
                "shape": ["batch", 3, "height", "width"],
                "dtype": "float32",
                "unit": "RGB intensity in [0, 1]; sides multiples of 32",
            }
        },
        outputs={
            "anomaly_map": {
                "shape": ["batch", "height", "width"],
                "dtype": "float32",
                "unit": map_unit,
            },
            "score": {
                "shape": ["batch"],
                "dtype": "float32",
                "unit": f"{map_unit} (max of map)",
            },
        },
        preprocess={
            "function": "edgetwin.vision.export:module_input",
            "params": {"size": list(size)},
        },
        postprocess={
            "output": "score",
            "function": "edgetwin.edge.processing:threshold",
            "params": {"value": thresholds["fp32"]},
            "thresholds": thresholds,
            "false_reject_rate": false_reject_rate,
            "decision": "reject when score > threshold (fp32 value in params; thresholds per precision)",
        },
        data=refs,
        preparation=[
            {
                "step": "resize",
                "size": list(size),
                "interpolation": "bilinear (area when shrinking)",
            },
            {"step": "gray to RGB", "how": "replicate the channel"},
            {"step": "ImageNet normalisation", "where": "in the ONNX graph"},
            {"step": "split", **data.protocol},
        ],
        model=ModelInfo(family="patchcore", hyperparameters=det.hyperparameters()),
        verification={
            "parity": parity,
            "calibration": {
                "n_good": len(data.calibration),
                "false_reject_rate": false_reject_rate,
                "threshold_rule": threshold_rule,
                "position_norm": "per-pixel mean/std of the calibration maps, in the graph; "
                "threshold on leave-one-out scores"
                if position_norm
                else None,
            },
        },
        deployment={
            "int8": "backbone convolutions static QDQ per-channel; memory-bank search fp32"
        },
    )
    path = build_module(
        out_path,
        onnx_fp32=onnx_fp32,
        manifest=manifest,
        onnx_int8=onnx.get("int8"),
        signing_key=signing_key,
    )
    log.info("inspection module %s: thresholds %s", path, thresholds)
    return TrainResult(path, det, thresholds, parity, scores, onnx)
